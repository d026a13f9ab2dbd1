package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.kernel.DriverClient;
import dev.interpretersandbox.kernel.DriverMessage;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelStartException;
import dev.interpretersandbox.log.LogSafe;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * What both isolation modes share: a kernel is a child process of the service (runsc run, or the
 * driver itself) with a JSON-lines channel on its stdin/stdout, a bounded ring of its stderr, and
 * a cgroup whose peak memory tells an out-of-memory death apart. Subclasses signal and tear down.
 *
 * <p>Thread-safety: {@link #interrupt}, {@link #alive} and {@link #destroy} may be called from
 * any thread; destroy runs {@link #teardown} once (later calls return at once).
 */
abstract class ChildKernel implements KernelHandle {

    private static final Logger LOG = Logger.getLogger(ChildKernel.class);
    /** How long a process gets to exit after its stdin closed or it was killed. */
    static final Duration EXIT_WAIT = Duration.ofSeconds(5);
    /** How long a diagnosis waits for a dying process to end and for its last stderr. */
    private static final Duration DIAGNOSIS_WAIT = Duration.ofSeconds(2);

    protected final String containerId;
    protected final Process process;
    protected final Cgroups cgroups;
    private final Cgroups.Counters counters;
    private final DriverClient driver;
    private final KernelLog log;
    private final long memoryLimit;
    private final AtomicBoolean destroyed = new AtomicBoolean();

    ChildKernel(
            String containerId,
            Process process,
            ObjectMapper mapper,
            KernelChannel.Limits limits,
            KernelChannel.DropCounter drops,
            Cgroups cgroups,
            long memoryLimit) {
        this.containerId = containerId;
        this.process = process;
        this.cgroups = cgroups;
        this.counters = cgroups.counters(containerId);
        this.memoryLimit = memoryLimit;
        this.log = new KernelLog(process.getErrorStream(), containerId);
        this.driver = new DriverClient(new KernelChannel(
                mapper, process.getInputStream(), process.getOutputStream(), containerId, limits, drops));
    }

    @Override
    public DriverClient driver() {
        return driver;
    }

    @Override
    public String name() {
        return containerId;
    }

    @Override
    public boolean alive() {
        return process.isAlive() && !destroyed.get() && driver.channel().violation() == null;
    }

    @Override
    public Optional<Long> peakMemory() {
        // after destroy the counters are closed: the parent cgroup may still be there to read
        return counters.closed() ? cgroups.peakMemory(containerId) : counters.peakMemory();
    }

    @Override
    public void resetPeakMemory() {
        counters.resetPeak();
    }

    @Override
    public Optional<Long> memoryBytes() {
        return cgroups.memoryUsage(containerId);
    }

    @Override
    public Optional<Long> cpuNanos() {
        return counters.cpuNanos();
    }

    @Override
    public String deathCause() {
        String violation = driver.channel().violation();
        if (violation != null) {
            return "the kernel broke the driver protocol: " + violation;
        }
        try {
            process.waitFor(DIAGNOSIS_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!process.isAlive()) {
            log.awaitEnd(DIAGNOSIS_WAIT); // its last words may still be in the pipe
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

    /** The last lines the kernel wrote to stderr, safe to log and to show. */
    String logTail() {
        return LogSafe.quote(log.tail(5));
    }

    /** Waits for the driver's ready message; on failure tears down and throws with the diagnosis. */
    void awaitReady(long startedNanos, Duration timeout) {
        DriverMessage answer;
        try {
            answer = driver.awaitReady(remaining(startedNanos, timeout));
        } catch (InterruptedException e) {
            destroy();
            Thread.currentThread().interrupt();
            throw new KernelStartException("interrupted while starting the kernel", e);
        }
        if (answer instanceof DriverMessage.Ready ready) {
            LOG.infof(
                    "kernel %s ready in %d ms (Python %s, IPython %s)",
                    containerId,
                    (System.nanoTime() - startedNanos) / 1_000_000,
                    LogSafe.quote(ready.python()),
                    LogSafe.quote(ready.ipython()));
            return;
        }
        String why = answer == null
                ? "the kernel was not ready after " + timeout.toSeconds() + " s" + tailSuffix()
                : "the sandbox failed to start: " + deathCause();
        destroy();
        throw new KernelStartException(why);
    }

    /**
     * A restored driver does not say "ready" again (it is mid-loop): it is ready when it answers
     * a no-op request. On failure tears down and throws with the diagnosis.
     */
    void awaitAnswer(long startedNanos, Duration timeout) {
        DriverMessage answer;
        try {
            answer = driver.ping(remaining(startedNanos, timeout));
        } catch (InterruptedException e) {
            destroy();
            Thread.currentThread().interrupt();
            throw new KernelStartException("interrupted while restoring the kernel", e);
        }
        if (answer instanceof DriverMessage.Done) {
            LOG.infof("kernel %s restored in %d ms", containerId, (System.nanoTime() - startedNanos) / 1_000_000);
            return;
        }
        String cause = answer == null ? "no answer after " + timeout.toSeconds() + " s" : deathCause();
        destroy();
        throw new KernelStartException("the restored kernel did not answer: " + cause);
    }

    private static Duration remaining(long startedNanos, Duration timeout) {
        return Duration.ofNanos(Math.max(0, startedNanos + timeout.toNanos() - System.nanoTime()));
    }

    private String tailSuffix() {
        String output = logTail();
        return output.isBlank() ? "" : ": " + output;
    }

    /** Waits for the process to end after it was told to; kills it if it does not. */
    void reap(List<String> errors) {
        try {
            process.getOutputStream().close();
        } catch (IOException e) {
            errors.add("close stdin: " + e.getMessage());
        }
        try {
            if (!process.waitFor(EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
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
        counters.close();
        teardown(errors);
        if (!errors.isEmpty()) {
            LOG.warnf("teardown of %s was incomplete: %s", containerId, LogSafe.quote(String.join("; ", errors)));
        }
    }

    /** Every teardown step, each running even when an earlier one failed; failures go to errors. */
    abstract void teardown(List<String> errors);
}
