package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.RunningCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/** One kernel in one gVisor container, run by a foreground {@code runsc run} child process. */
final class RunscKernel extends ChildKernel {

    private static final Logger LOG = Logger.getLogger(RunscKernel.class);
    // Writing a sandbox's memory out takes seconds for a kernel with the data libraries loaded;
    // a full 1 GiB sandbox takes longer.
    private static final Duration CHECKPOINT_DEADLINE = Duration.ofSeconds(120);

    private final RunscClient runsc;
    private final Path bundle;
    private final ObjectMapper mapper;

    RunscKernel(
            String containerId,
            Process process,
            ObjectMapper mapper,
            KernelChannel.Limits limits,
            KernelChannel.DropCounter drops,
            RunscClient runsc,
            Cgroups cgroups,
            Path bundle,
            long memoryLimit) {
        super(containerId, process, mapper, limits, drops, cgroups, memoryLimit);
        this.runsc = runsc;
        this.bundle = bundle;
        this.mapper = mapper;
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
            // Like a restore, saving compresses the memory image on every CPU the cgroup allows;
            // runsc stops the sandbox's tasks first, and the container ends with the checkpoint.
            // Best effort: it only saves time.
            try {
                cgroups.setCpus(containerId, Runtime.getRuntime().availableProcessors());
            } catch (IOException e) {
                LOG.debugf("checkpoint of %s at the sandbox's own CPU quota: %s", containerId, e.getMessage());
            }
            runsc.checkpoint(containerId, image, CHECKPOINT_DEADLINE);
            process.waitFor(EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS); // runsc run ends with its container
            LOG.infof("kernel %s checkpointed in %d ms", containerId, (System.nanoTime() - started) / 1_000_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            LOG.warnf("cannot checkpoint %s: %s", containerId, e.getMessage());
            Trees.delete(image);
            return false;
        }
        destroy();
        return true;
    }

    @Override
    public RunningCommand command(CommandSpec command) throws IOException {
        return RunscCommand.start(containerId, runsc, mapper, bundle, command);
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
        Trees.delete(bundle);
    }
}
