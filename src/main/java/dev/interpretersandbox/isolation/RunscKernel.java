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
    /**
     * Kills each process but init (PID 1) and the kernel's driver (init's child running it) whose
     * standard input, output or error is a file of the host: what a command left running with the
     * command's output open.
     */
    private static final String LEFTOVERS = String.join(
            "\n",
            "self=$$",
            // Rounds until none is found: a loop killed after its child may have started another.
            "round=0",
            "while [ $round -lt 50 ]; do",
            "  round=$((round + 1)); found=",
            "  for d in /proc/[0-9]*; do",
            "    p=${d#/proc/}",
            "    if [ \"$p\" = 1 ] || [ \"$p\" = \"$self\" ]; then continue; fi",
            "    read -r s 2>/dev/null < \"$d/stat\" || continue",
            "    s=${s##*) }; set -- $s",
            "    if [ \"$1\" = Z ]; then continue; fi",
            "    if [ \"$2\" = 1 ]; then",
            "      case $(tr '\\0' ' ' < \"$d/cmdline\" 2>/dev/null) in *" + RootFs.DRIVER_IN_SANDBOX
                    + "*) continue;; esac",
            "    fi",
            // gVisor lists no /proc/N/fd of another process, but reads its links one by one.
            "    for n in 0 1 2; do",
            "      case $(readlink \"$d/fd/$n\" 2>/dev/null) in",
            "        host:*) kill -9 \"$p\" 2>/dev/null; found=1; break;;",
            "      esac",
            "    done",
            "  done",
            "  [ -z \"$found\" ] && break",
            "  sleep 0.05",
            "done",
            "exit 0");

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
            endLeftovers();
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

    /**
     * Ends what commands left running with their output open: a process a command started in a
     * session of its own ({@code setsid cmd &}), which outlives the command, holding its output,
     * a pipe to the host. A checkpoint saves that, but the restore cannot open it again: the
     * restore failed and the sandbox lost its variables. Processes that hold no file of the host
     * (the kernel's children, a background command writing to a file) are kept. No command runs at
     * a pause (a command holds the sandbox as a transfer).
     */
    private void endLeftovers() {
        try {
            runsc.execShell(containerId, LEFTOVERS);
        } catch (RuntimeException e) {
            LOG.debugf("cannot end what commands left in %s: %s", containerId, e.getMessage());
        }
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
