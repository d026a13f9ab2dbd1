package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.kernel.DriverClient;
import dev.interpretersandbox.kernel.DriverMessage;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.log.LogSafe;
import dev.interpretersandbox.metrics.SandboxMetrics.RestartCause;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * One execution, from its place in the queue to its result: it sends the code, turns the kernel's
 * output into events (through its {@link OutputGuard}), stops runaway code (timeout → interrupt →
 * restart after the grace period), reports a dying kernel, and ends with file events and usage.
 *
 * <p>No thread waits for the kernel: output arrives on the kernel's reader thread, the timeout and
 * the grace period are timers, and the short work before and after runs on the execution threads.
 * The execution keeps its sandbox until its sink has delivered everything.
 *
 * <p>Thread-safety: the phase, the guard and the sink are touched only under this object's lock,
 * so events reach the sink one at a time and in order; the reader waits for the sink's room
 * outside it.
 */
public final class Execution extends Job implements DriverClient.Observer {

    private static final Logger LOG = Logger.getLogger(Execution.class);
    /** Files tracked for file events; a workspace with more reports changes among these only. */
    static final int MAX_TRACKED_FILES = 10_000;
    /** Entries of any kind a file-event snapshot looks at: links and directories cost no quota. */
    static final int MAX_WALKED_ENTRIES = 20_000;

    private static final long TIMESTAMP_SLACK_NANOS = 1_000_000_000L;

    private enum Phase {
        QUEUED,
        PREPARING,
        RUNNING,
        /** Interrupted after a timeout or a cancel; waiting for the kernel to finish within the grace. */
        STOPPING,
        FINISHING,
        OVER
    }

    private final Sandbox sandbox;
    private final SandboxContext context;
    private final ExecutionRequest request;
    private final EventSink sink;
    private final OutputGuard guard;
    private Phase phase = Phase.QUEUED;
    private boolean cancelRequested;
    private ExecutionStatus stopStatus;
    private boolean shutdown; // stopped because the service shuts down
    private KernelHandle kernel;
    private Workspace.Snapshot before = new Workspace.Snapshot(Map.of(), true);
    private long begunEpochNanos;
    private Optional<Long> cpuBefore = Optional.empty();
    private long startedNanos;
    private Deadlines.Deadline timer;
    private volatile boolean dropping;
    /** Holds one of the service's waiting slots (guarded by its sandbox's lock). */
    boolean admitted;

    Execution(Sandbox sandbox, SandboxContext context, ExecutionRequest request, EventSink sink) {
        this.sandbox = sandbox;
        this.context = context;
        this.request = request;
        this.sink = sink;
        this.guard = new OutputGuard(context.budget(), sink::event, request.coalesce());
    }

    /**
     * The caller gave up (its client went away): a queued execution never runs, a running one is
     * interrupted like a timeout, so the kernel is idle for the next caller.
     */
    public void cancel() {
        boolean withdraw = false;
        synchronized (this) {
            cancelRequested = true;
            if (phase == Phase.QUEUED) {
                withdraw = true;
            } else if (phase == Phase.RUNNING) {
                stop(ExecutionStatus.CANCELLED);
            }
        }
        if (withdraw && sandbox.withdraw(this)) {
            synchronized (this) {
                phase = Phase.OVER;
            }
            sink.complete(new ExecutionResult(ExecutionStatus.CANCELLED, ExecutionResult.Usage.NONE));
        }
    }

    @Override
    void start() {
        context.workers().execution().execute(() -> sandbox.runExecution(this));
    }

    @Override
    void abandon(SandboxException why) {
        synchronized (this) {
            phase = Phase.OVER;
        }
        sink.failed(why);
    }

    /** Whether to go on towards running; false when the caller already left (then it is over). */
    synchronized boolean prepare() {
        if (cancelRequested) {
            phase = Phase.OVER;
            return false;
        }
        phase = Phase.PREPARING;
        return true;
    }

    /** It could not start (no kernel): an ordinary error for the caller. */
    void failBeforeStart(SandboxException why) {
        synchronized (this) {
            phase = Phase.OVER;
        }
        sink.failed(why);
        sandbox.finished(this);
    }

    /** The caller left before the code ran: nothing to report. */
    void skip() {
        sink.complete(new ExecutionResult(ExecutionStatus.CANCELLED, ExecutionResult.Usage.NONE));
        sandbox.finished(this);
    }

    /**
     * Sends the code to a ready kernel (execution thread). The timeout counts from here; notice,
     * when not null, is what the caller must know first (the last kernel died).
     */
    void begin(KernelHandle ready, String notice) {
        long begun = epochNanos(Instant.now());
        Workspace.Snapshot snapshot = sandbox.workspace().snapshot(MAX_TRACKED_FILES, MAX_WALKED_ENTRIES);
        ready.resetPeakMemory();
        Optional<Long> cpu = ready.cpuNanos();
        synchronized (this) {
            if (cancelRequested) {
                phase = Phase.OVER;
            } else {
                kernel = ready;
                before = snapshot;
                begunEpochNanos = begun;
                cpuBefore = cpu;
                phase = Phase.RUNNING;
                startedNanos = System.nanoTime();
                sink.started();
                if (notice != null) {
                    guard.add(Event.error(Instant.now(), "KernelDied", notice, List.of()));
                }
                // The timeout also covers sending the code: a kernel that stops reading its
                // requests is interrupted and then restarted like code that runs too long.
                timer = context.deadlines().after(request.timeout().toNanos(), this::timedOut);
            }
        }
        if (kernel == null) {
            skip();
            return;
        }
        try {
            ready.driver()
                    .execute(
                            request.code(),
                            request.env(),
                            request.context(),
                            context.budget().driverLimits(),
                            this);
        } catch (IOException e) {
            ended(new DriverMessage.Closed(Instant.now()));
        }
    }

    @Override
    public void started() {
        // the driver took the code; the output that follows is this execution's
    }

    @Override
    public void output(DriverMessage.Output output) {
        if (dropping) {
            return;
        }
        if (!sink.awaitRoom()) {
            cancel(); // the client stopped reading for too long, or left
            return;
        }
        synchronized (this) {
            if (phase == Phase.RUNNING) {
                guard.accept(output);
            }
        }
    }

    /**
     * The code finished. The rest (usage, file events, the result) runs right here on the
     * kernel's reader thread, which has nothing else to read for this execution: a hand-off to
     * another thread would cost every call a wake-up.
     */
    @Override
    public void done() {
        synchronized (this) {
            if (phase == Phase.RUNNING) {
                finishing(ExecutionStatus.OK);
            } else if (phase == Phase.STOPPING) {
                finishing(stopStatus); // interrupted in time: the state is kept
                if (shutdown) {
                    guard.add(Event.error(
                            Instant.now(),
                            "ServiceShuttingDown",
                            "the service is shutting down: the code was interrupted after the shutdown grace of "
                                    + seconds(context.config().shutdown().grace())
                                    + "; variables are kept, the sandbox is saved and resumes on the next call",
                            List.of()));
                }
            } else {
                return;
            }
        }
        finish();
    }

    @Override
    public void ended(DriverMessage end) {
        ExecutionStatus status;
        synchronized (this) {
            if (phase == Phase.RUNNING) {
                status = ExecutionStatus.ERROR;
            } else if (phase == Phase.STOPPING) {
                status = stopStatus;
            } else {
                return;
            }
            finishing(status);
        }
        context.workers().lifecycle().execute(() -> died(end, status));
    }

    /** The service is shutting down and the grace is over: the code is interrupted like at a timeout. */
    void interruptForShutdown() {
        synchronized (this) {
            if (phase == Phase.RUNNING) {
                shutdown = true;
                stop(ExecutionStatus.ERROR);
            }
        }
    }

    private void timedOut() {
        synchronized (this) {
            if (phase == Phase.RUNNING) {
                stop(ExecutionStatus.TIMEOUT);
            }
        }
    }

    /** Interrupts the code; if it is not done within the grace period, the sandbox is restarted. */
    private void stop(ExecutionStatus status) {
        phase = Phase.STOPPING;
        stopStatus = status;
        dropping = true; // output after the deadline (such as the KeyboardInterrupt traceback) is not reported
        context.deadlines().cancel(timer);
        Duration grace = context.config().execute().interruptGrace();
        timer = context.deadlines().after(grace.toNanos(), this::graceExpired);
        KernelHandle running = kernel;
        context.workers().lifecycle().execute(() -> {
            try {
                running.interrupt();
            } catch (RuntimeException e) {
                LOG.warnf("cannot interrupt kernel %s: %s", running.name(), e.getMessage());
            }
        });
    }

    private void graceExpired() {
        ExecutionStatus status;
        synchronized (this) {
            if (phase != Phase.STOPPING) {
                return;
            }
            status = stopStatus;
            finishing(status);
        }
        context.workers().lifecycle().execute(() -> restartAfterGrace(status));
    }

    private void restartAfterGrace(ExecutionStatus status) {
        Duration grace = context.config().execute().interruptGrace();
        LOG.warnf(
                "kernel %s ignored the interrupt for %d ms; restarting sandbox %s",
                kernel.name(), grace.toMillis(), sandbox.id());
        sandbox.discardKernel(kernel, RestartCause.INTERRUPT_IGNORED);
        String why = shutdown
                ? "the service's shutdown"
                : status == ExecutionStatus.TIMEOUT ? "the timeout" : "the caller disconnected";
        synchronized (this) {
            guard.add(Event.error(
                    Instant.now(),
                    "SandboxRestarted",
                    "the code did not stop within " + seconds(grace) + " of the interrupt after " + why
                            + ", so the sandbox was restarted: variables and imports are lost; files in /mnt/data"
                            + " are kept",
                    List.of()));
        }
        finish();
    }

    /** The kernel ended during the execution: tear it down and say why (lifecycle thread). */
    private void died(DriverMessage end, ExecutionStatus status) {
        String cause = sandbox.deathCause(kernel);
        RestartCause restart = end instanceof DriverMessage.Violation
                ? RestartCause.PROTOCOL
                : cause.startsWith("out of memory") ? RestartCause.OUT_OF_MEMORY : RestartCause.DIED;
        LOG.warnf("kernel of sandbox %s died during an execution: %s", sandbox.id(), LogSafe.quote(cause));
        sandbox.discardKernel(kernel, restart);
        synchronized (this) {
            guard.add(Event.error(
                    Instant.now(),
                    "KernelDied",
                    "the kernel died during the execution (" + cause + "); the next execution starts a fresh"
                            + " kernel: variables and imports are lost, files in /mnt/data are kept",
                    List.of()));
        }
        finish();
    }

    /** Under the lock: no more output is taken; what remains is the result. */
    private void finishing(ExecutionStatus status) {
        phase = Phase.FINISHING;
        stopStatus = status;
        dropping = true;
        context.deadlines().cancel(timer);
        kernel.driver().detach();
    }

    /**
     * Whether a file the second snapshot saw was created or changed since the first. A file the
     * first did not see is new, unless the first stopped short of it (a workspace past the
     * snapshot's bounds, where deleting a directory lets the second walk reach further): then only
     * a file written since the execution began counts (a second of slack for coarse timestamps).
     */
    static boolean changed(Workspace.Snapshot before, String path, Workspace.Stamp now, long begunEpochNanos) {
        Workspace.Stamp was = before.files().get(path);
        if (was != null) {
            return !was.equals(now);
        }
        return before.complete() || now.modifiedNanos() >= begunEpochNanos - TIMESTAMP_SLACK_NANOS;
    }

    private static long epochNanos(Instant instant) {
        return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
    }

    /** Usage, held-back output and file events, then the result (execution or lifecycle thread). */
    private void finish() {
        ExecutionStatus status;
        try {
            long elapsed = System.nanoTime() - startedNanos;
            sandbox.addBusy(elapsed);
            ExecutionResult.Usage usage = usage(elapsed);
            Workspace.Snapshot after = sandbox.workspace().snapshot(MAX_TRACKED_FILES, MAX_WALKED_ENTRIES);
            Instant now = Instant.now();
            synchronized (this) {
                status = stopStatus;
                guard.finish();
                after.files().entrySet().stream()
                        .filter(e -> changed(before, e.getKey(), e.getValue(), begunEpochNanos))
                        .sorted(Map.Entry.comparingByKey())
                        .forEach(e -> sink.event(
                                Event.file(now, e.getKey(), e.getValue().size())));
                phase = Phase.OVER;
            }
            context.metrics().executed(status.wire(), Duration.ofNanos(elapsed));
            sink.complete(new ExecutionResult(status, usage)).whenComplete((ok, failure) -> sandbox.finished(this));
        } catch (RuntimeException e) {
            LOG.error("an execution could not be finished", e);
            sink.failed(new SandboxException(SandboxException.Kind.INTERNAL, "internal error: " + e.getMessage(), e));
            sandbox.finished(this);
        }
    }

    private ExecutionResult.Usage usage(long elapsedNanos) {
        Optional<Long> cpuAfter = kernel.cpuNanos();
        Double cpuMs = cpuBefore.isPresent() && cpuAfter.isPresent()
                ? Math.max(0, cpuAfter.get() - cpuBefore.get()) / 1_000_000.0
                : null;
        return new ExecutionResult.Usage(
                elapsedNanos / 1_000_000.0, cpuMs, kernel.peakMemory().orElse(null));
    }

    private static String seconds(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + " s" : duration.toMillis() + " ms";
    }
}
