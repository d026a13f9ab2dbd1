package dev.interpretersandbox.isolation;

import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelMessage;
import dev.interpretersandbox.kernel.KernelStartException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * What both isolation modes share: a kernel is a child process of the service (runsc run, or the
 * driver itself) with a JSON-lines channel, a stderr log, and a cgroup whose peak memory tells
 * an out-of-memory death apart. Subclasses signal and tear down.
 *
 * <p>Thread-safety: {@link #interrupt}, {@link #alive} and {@link #destroy} may be called from
 * any thread; destroy runs {@link #teardown} once (later calls return at once).
 */
abstract class ChildKernel implements KernelHandle {

    private static final Logger LOG = Logger.getLogger(ChildKernel.class);

    protected final String containerId;
    protected final Process process;
    protected final KernelChannel channel;
    protected final Cgroups cgroups;
    protected final Path log;
    private final long memoryLimit;
    private final AtomicBoolean destroyed = new AtomicBoolean();

    ChildKernel(
            String containerId, Process process, KernelChannel channel, Cgroups cgroups, Path log, long memoryLimit) {
        this.containerId = containerId;
        this.process = process;
        this.channel = channel;
        this.cgroups = cgroups;
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
    public boolean alive() {
        return process.isAlive() && !destroyed.get();
    }

    @Override
    public Optional<Long> peakMemory() {
        return cgroups.peakMemory(containerId);
    }

    @Override
    public void resetPeakMemory() {
        cgroups.resetPeakMemory(containerId);
    }

    @Override
    public Optional<Long> memoryBytes() {
        return cgroups.memoryUsage(containerId);
    }

    @Override
    public Optional<Long> cpuNanos() {
        return cgroups.cpuNanos(containerId);
    }

    @Override
    public String deathCause() {
        try {
            process.waitFor(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Optional<Long> peak = peakMemory();
        // The cgroup kills the sandbox at its limit; a peak at the limit means that happened.
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

    /** Waits for the driver's ready message; on failure tears down and throws with the diagnosis. */
    void awaitReady(long startedNanos, Duration timeout) {
        long deadline = startedNanos + timeout.toNanos();
        try {
            while (true) {
                KernelMessage message = channel.next(deadline - System.nanoTime());
                if (message == null) {
                    String output = logTail();
                    destroy();
                    throw new KernelStartException("the kernel was not ready after " + timeout.toSeconds() + " s"
                            + (output.isBlank() ? "" : ": " + output));
                }
                if (message.type().equals("ready")) {
                    LOG.infof(
                            "kernel %s ready in %d ms (Python %s, IPython %s)",
                            containerId,
                            (System.nanoTime() - startedNanos) / 1_000_000,
                            message.body().path("python").asText(),
                            message.body().path("ipython").asText());
                    return;
                }
                if (message.endOfStream()) {
                    String cause = deathCause();
                    destroy();
                    throw new KernelStartException("the sandbox failed to start: " + cause);
                }
            }
        } catch (InterruptedException e) {
            destroy();
            Thread.currentThread().interrupt();
            throw new KernelStartException("interrupted while starting the kernel", e);
        }
    }

    /**
     * A restored driver does not say "ready" again (it is mid-loop): it is ready when it answers
     * a no-op request. On failure tears down and throws with the diagnosis.
     */
    void awaitAnswer(long startedNanos, Duration timeout) {
        long deadline = startedNanos + timeout.toNanos();
        try {
            channel.send(channel.request("ping").put("id", -2));
            while (true) {
                KernelMessage message = channel.next(deadline - System.nanoTime());
                if (message == null || message.endOfStream()) {
                    String cause = message == null ? "no answer after " + timeout.toSeconds() + " s" : deathCause();
                    destroy();
                    throw new KernelStartException("the restored kernel did not answer: " + cause);
                }
                if (message.type().equals("done") && message.body().path("id").asLong() == -2) {
                    LOG.infof(
                            "kernel %s restored in %d ms", containerId, (System.nanoTime() - startedNanos) / 1_000_000);
                    return;
                }
            }
        } catch (IOException e) {
            destroy();
            throw new KernelStartException("the restored kernel did not take a request: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            destroy();
            Thread.currentThread().interrupt();
            throw new KernelStartException("interrupted while restoring the kernel", e);
        }
    }

    /** Waits for the process to end after it was told to; kills it if it does not. */
    void reap(List<String> errors) {
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
    }

    @Override
    public final void destroy() {
        if (!destroyed.compareAndSet(false, true)) {
            return;
        }
        List<String> errors = new ArrayList<>();
        teardown(errors);
        if (!errors.isEmpty()) {
            LOG.warnf("teardown of %s was incomplete: %s", containerId, String.join("; ", errors));
        }
    }

    /** Every teardown step, each running even when an earlier one failed; failures go to errors. */
    abstract void teardown(List<String> errors);
}
