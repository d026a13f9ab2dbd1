package dev.interpretersandbox.isolation;

import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * One kernel in one gVisor container, run by a foreground {@code runsc run} child process.
 *
 * <p>Thread-safety: {@link #interrupt}, {@link #alive} and {@link #destroy} may be called from
 * any thread; destroy runs once (later calls return at once) and runs every teardown step even
 * when one fails.
 */
final class RunscKernel implements KernelHandle {

    private static final Logger LOG = Logger.getLogger(RunscKernel.class);

    private final String containerId;
    private final Process process;
    private final KernelChannel channel;
    private final RunscClient runsc;
    private final Cgroups cgroups;
    private final Path bundle;
    private final Path log;
    private final long memoryLimit;
    private final AtomicBoolean destroyed = new AtomicBoolean();

    RunscKernel(
            String containerId,
            Process process,
            KernelChannel channel,
            RunscClient runsc,
            Cgroups cgroups,
            Path bundle,
            Path log,
            long memoryLimit) {
        this.containerId = containerId;
        this.process = process;
        this.channel = channel;
        this.runsc = runsc;
        this.cgroups = cgroups;
        this.bundle = bundle;
        this.log = log;
        this.memoryLimit = memoryLimit;
    }

    @Override
    public KernelChannel channel() {
        return channel;
    }

    @Override
    public String name() {
        return containerId;
    }

    @Override
    public void interrupt() {
        runsc.kill(containerId, "INT");
    }

    @Override
    public boolean alive() {
        return process.isAlive() && !destroyed.get();
    }

    @Override
    public Optional<Long> peakMemory() {
        return cgroups.peakMemory(containerId);
    }

    @Override
    public String deathCause() {
        try {
            process.waitFor(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Optional<Long> peak = peakMemory();
        // The sandbox's cgroup kills the whole sandbox at its limit; a peak at the limit means that happened.
        if (peak.isPresent() && peak.get() >= memoryLimit - memoryLimit / 50) {
            return "out of memory: the sandbox reached its memory limit of " + Sizes.human(memoryLimit);
        }
        String status = process.isAlive() ? "is unresponsive" : "exited with code " + process.exitValue();
        String output = logTail();
        return "the kernel " + status + (output.isBlank() ? "" : " (" + output + ")");
    }

    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            List<String> tail = new ArrayList<>(lines.subList(Math.max(0, lines.size() - 5), lines.size()));
            return String.join(" | ", tail).strip();
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void destroy() {
        if (!destroyed.compareAndSet(false, true)) {
            return;
        }
        List<String> errors = new ArrayList<>();
        if (process.isAlive()) {
            try {
                runsc.kill(containerId, "KILL");
            } catch (RuntimeException e) {
                errors.add("kill: " + e.getMessage());
            }
        }
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            errors.add("close stdin: " + e.getMessage());
        }
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
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
        if (!errors.isEmpty()) {
            LOG.warnf("teardown of %s was incomplete: %s", containerId, String.join("; ", errors));
        }
    }
}
