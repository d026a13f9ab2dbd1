package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import java.nio.file.Path;

/**
 * Where everything lives under {@code sandbox.state-dir}. The service owns the whole tree: it is
 * swept at startup, so nothing else may be kept there.
 *
 * <pre>
 * state-dir/
 *   runtime/rootfs          read-only root filesystem skeleton shared by all sandboxes
 *   runtime/kernel_driver.py the driver, bound read-only into each sandbox
 *   runsc/                  runsc --root
 *   tmp/                    private staging (never visible to a sandbox)
 *   sandboxes/ID/workspace  the sandbox's /mnt/data
 *   sandboxes/ID/bundles/C  OCI bundle of container C
 *   sandboxes/ID/logs/C.log runsc's stderr for container C
 * </pre>
 */
public record StateLayout(Path root) {

    public static StateLayout of(SandboxConfig config) {
        return new StateLayout(config.stateDir().toAbsolutePath().normalize());
    }

    public Path runtime() {
        return root.resolve("runtime");
    }

    public Path rootfs() {
        return runtime().resolve("rootfs");
    }

    public Path driver() {
        return runtime().resolve("kernel_driver.py");
    }

    public Path runscRoot() {
        return root.resolve("runsc");
    }

    public Path staging() {
        return root.resolve("tmp");
    }

    public Path sandboxes() {
        return root.resolve("sandboxes");
    }

    public Path sandbox(String id) {
        return sandboxes().resolve(id);
    }

    public Path workspace(String id) {
        return sandbox(id).resolve("workspace");
    }

    public Path bundle(String id, String containerId) {
        return sandbox(id).resolve("bundles").resolve(containerId);
    }

    public Path log(String id, String containerId) {
        return sandbox(id).resolve("logs").resolve(containerId + ".log");
    }
}
