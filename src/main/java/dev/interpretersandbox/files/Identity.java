package dev.interpretersandbox.files;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Who the service runs as. */
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
     * Neither root nor holding any capability (CapEff in /proc/self/status): file modes bind it
     * as they bind its sandbox code, which then runs as the service's own user.
     */
    public static boolean unprivileged() {
        if (root()) {
            return false;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return Long.parseUnsignedLong(
                                    line.substring("CapEff:".length()).strip(), 16)
                            == 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // cannot tell: treat it as privileged
        }
        return false;
    }
}
