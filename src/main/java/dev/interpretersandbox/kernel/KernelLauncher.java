package dev.interpretersandbox.kernel;

import java.nio.file.Path;

/** Starts a kernel for a sandbox whose workspace is the given host directory. */
public interface KernelLauncher {

    /** Blocks until the driver said it is ready; throws {@link KernelStartException} with a diagnosis otherwise. */
    KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits);
}
