package dev.interpretersandbox.kernel;

import java.nio.file.Path;
import java.util.Optional;

/** Starts kernels for sandboxes; the seam between the sandbox and the isolation backend. */
public interface KernelLauncher {

    /**
     * Starts a fresh kernel whose workspace is the given host directory. Blocks until the driver
     * said it is ready; throws {@link KernelStartException} with a diagnosis otherwise.
     */
    KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits);

    /** Whether kernels of this backend can be checkpointed and restored. */
    default boolean canCheckpoint() {
        return false;
    }

    /**
     * What a checkpoint image of this launcher depends on (runtime version, Python, driver, root
     * filesystem), or empty when it cannot {@link #restore} at all.
     */
    default Optional<String> templateKey() {
        return Optional.empty();
    }

    /**
     * Starts a kernel from a {@link KernelHandle#checkpoint} image, in a new container of its own
     * (own cgroup, the sandbox's workspace), with its variables as they were. Throws {@link
     * KernelStartException} when it cannot; the caller then starts a fresh one.
     */
    default KernelHandle restore(String sandboxId, Path workspace, KernelLimits limits, Path image) {
        throw new KernelStartException("this isolation mode cannot restore a checkpoint");
    }
}
