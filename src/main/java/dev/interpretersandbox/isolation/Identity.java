package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Who the service runs as, and so who kernels run as and who owns workspace files. */
public final class Identity {

    private Identity() {}

    public static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot tell which user the service runs as", e);
        }
    }

    public static boolean root() {
        return uid() == 0;
    }

    /**
     * The uid of kernel processes and workspace files: sandbox.user-id, except in process mode
     * without root (an unprivileged pod), where kernels can only run as the service's own user.
     */
    public static int kernelUid(SandboxConfig config) {
        return config.isolation() == SandboxConfig.Isolation.PROCESS && !root() ? uid() : config.userId();
    }
}
