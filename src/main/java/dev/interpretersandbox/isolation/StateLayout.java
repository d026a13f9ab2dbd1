package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where everything lives under {@code sandbox.state-dir}. The service owns the whole tree.
 *
 * <pre>
 * state-dir/
 *   runtime/rootfs           read-only root filesystem skeleton shared by all sandboxes
 *   runtime/kernel_driver.py the driver, bound read-only into each sandbox
 *   runtime/templates/F      the warm pool's checkpoint image for configuration F
 *   runsc/                   runsc --root
 *   bundles/C                OCI bundle of container C (runtime leftovers: swept)
 *   scratch/C                process mode: TMPDIR and caches of kernel C (swept)
 *   tmp/                     private staging (never visible to a sandbox; swept)
 *   sandboxes/ID/sandbox.json its durable record (kept across restarts)
 *   sandboxes/ID/workspace   the sandbox's /mnt/data (default: sandbox.default-workspace if set)
 *   sandboxes/ID/checkpoint  its paused or saved image
 *   removed/ID.json          why and when a removed sandbox went (its id answers 410)
 * </pre>
 */
public record StateLayout(Path root, Optional<Path> defaultWorkspace) {

    /** The sandbox whose workspace sandbox.default-workspace may relocate. */
    public static final String DEFAULT_SANDBOX = "default";

    public static StateLayout of(SandboxConfig config) {
        return new StateLayout(
                config.stateDir().toAbsolutePath().normalize(),
                config.defaultWorkspace().map(p -> p.toAbsolutePath().normalize()));
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

    public Path templates() {
        return runtime().resolve("templates");
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

    /** Sandboxes removed by the reaper, remembered so their ids answer 410 after a restart. */
    public Path removed() {
        return root.resolve("removed");
    }

    public Path sandbox(String id) {
        return sandboxes().resolve(id);
    }

    public Path workspace(String id) {
        if (id.equals(DEFAULT_SANDBOX) && defaultWorkspace.isPresent()) {
            return defaultWorkspace.get();
        }
        return sandbox(id).resolve("workspace");
    }

    /** Where a sandbox's paused image is kept. */
    public Path checkpoint(String id) {
        return sandbox(id).resolve("checkpoint");
    }

    public Path bundles() {
        return root.resolve("bundles");
    }

    public Path bundle(String containerId) {
        return bundles().resolve(containerId);
    }

    public Path scratches() {
        return root.resolve("scratch");
    }

    /** Private scratch space of one process-mode kernel (its TMPDIR, caches, IPython profile). */
    public Path scratch(String containerId) {
        return scratches().resolve(containerId);
    }
}
