package dev.interpretersandbox.isolation;

import dev.interpretersandbox.kernel.KernelChannel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** One kernel in one gVisor container, run by a foreground {@code runsc run} child process. */
final class RunscKernel extends ChildKernel {

    private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(RunscKernel.class);
    // Writing a sandbox's memory out takes about 1.3 s for a kernel with the data libraries loaded;
    // a full 1 GiB sandbox takes longer.
    private static final java.time.Duration CHECKPOINT_DEADLINE = java.time.Duration.ofSeconds(120);

    private final RunscClient runsc;
    private final Path bundle;

    RunscKernel(
            String containerId,
            Process process,
            KernelChannel channel,
            RunscClient runsc,
            Cgroups cgroups,
            Path bundle,
            Path log,
            long memoryLimit) {
        super(containerId, process, channel, cgroups, log, memoryLimit);
        this.runsc = runsc;
        this.bundle = bundle;
    }

    @Override
    public void interrupt() {
        runsc.kill(containerId, "INT");
    }

    /** runsc checkpoint writes the image and stops the container; teardown then removes the rest. */
    @Override
    public boolean checkpoint(Path image) {
        long started = System.nanoTime();
        try {
            Files.createDirectories(image);
            // Like a restore, saving compresses the memory image on every CPU the cgroup allows
            // (1.4-1.8 s at 1 CPU, 0.7-1.0 s with 2 here); runsc stops the sandbox's tasks first,
            // and the container ends with the checkpoint. Best effort: it only saves time.
            try {
                cgroups.setCpus(containerId, Runtime.getRuntime().availableProcessors());
            } catch (IOException e) {
                LOG.debugf("checkpoint of %s at the sandbox's own CPU quota: %s", containerId, e.getMessage());
            }
            runsc.checkpoint(containerId, image, CHECKPOINT_DEADLINE);
            process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS); // runsc run ends with its container
            LOG.infof("kernel %s checkpointed in %d ms", containerId, (System.nanoTime() - started) / 1_000_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            LOG.warnf("cannot checkpoint %s: %s", containerId, e.getMessage());
            dev.interpretersandbox.files.Trees.delete(image);
            return false;
        }
        destroy();
        return true;
    }

    @Override
    void teardown(List<String> errors) {
        if (process.isAlive()) {
            try {
                runsc.kill(containerId, "KILL");
            } catch (RuntimeException e) {
                errors.add("kill: " + e.getMessage());
            }
        }
        reap(errors);
        try {
            runsc.deleteForce(containerId);
        } catch (RuntimeException e) {
            errors.add("delete: " + e.getMessage());
        }
        cgroups.remove(containerId);
        try {
            Files.deleteIfExists(bundle.resolve("config.json"));
            Files.deleteIfExists(bundle);
            Files.deleteIfExists(log);
        } catch (IOException e) {
            errors.add("bundle: " + e.getMessage());
        }
    }
}
