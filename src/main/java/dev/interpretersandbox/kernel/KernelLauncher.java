package dev.interpretersandbox.kernel;

import java.nio.file.Path;

/** Starts a kernel for a sandbox whose workspace is the given host directory. */
public interface KernelLauncher {

    /** Blocks until the driver said it is ready; throws {@link KernelStartException} with a diagnosis otherwise. */
    KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits);

    /**
     * Starts a kernel from a {@link KernelHandle#checkpoint} image, in a new container of its own
     * (own cgroup, the sandbox's workspace), with its variables as they were. Throws {@link
     * KernelStartException} when it cannot; the caller then starts a fresh one.
     */
    /**
     * What a checkpoint image of this launcher depends on (runtime version, Python, driver,
     * root filesystem), or empty when it cannot {@link #restore} at all.
     */
    default java.util.Optional<String> templateKey() {
        return java.util.Optional.empty();
    }

    default KernelHandle restore(String sandboxId, Path workspace, KernelLimits limits, Path image) {
        throw new KernelStartException("this isolation mode cannot restore a checkpoint");
    }
}
