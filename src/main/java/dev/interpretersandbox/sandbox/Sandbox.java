package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.Event;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.KernelMessage;
import dev.interpretersandbox.kernel.KernelStartException;
import dev.interpretersandbox.metrics.SandboxMetrics;
import dev.interpretersandbox.metrics.SandboxMetrics.RestartCause;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.jboss.logging.Logger;

/**
 * One sandbox: a workspace directory and, while it runs, one kernel in its own gVisor container.
 *
 * <p>Invariants: executions run one at a time, in arrival order (a fair lock), with at most
 * {@code sandbox.execute.queue-size} waiting; the kernel is started, replaced and torn down only
 * while holding that lock. A kernel that times out and ignores the interrupt, or dies, is torn
 * down before the lock is released, so no caller ever waits behind runaway code. File transfers
 * do not take the lock (they never touch the kernel) but count as activity, and the reaper skips
 * a sandbox with one in flight.
 *
 * <p>Thread-safety: all public methods may be called from any thread.
 */
public final class Sandbox {

    private static final Logger LOG = Logger.getLogger(Sandbox.class);
    private static final int MAX_TRACKED_FILES = 10_000;

    private final String id;
    private final SandboxConfig config;
    private final KernelLauncher launcher;
    private final Workspace workspace;
    private final SandboxMetrics metrics;
    private final ReentrantLock executionLock = new ReentrantLock(true);
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicInteger transfers = new AtomicInteger();
    private final AtomicLong executions = new AtomicLong();

    private volatile Instant lastActivity = Instant.now();
    private volatile KernelHandle kernel;
    private volatile SandboxState state = SandboxState.STOPPED;
    private volatile String startFailure;

    public Sandbox(
            String id, SandboxConfig config, KernelLauncher launcher, Workspace workspace, SandboxMetrics metrics) {
        this.id = id;
        this.metrics = metrics;
        this.config = config;
        this.launcher = launcher;
        this.workspace = workspace;
    }

    public String id() {
        return id;
    }

    public Instant lastActivity() {
        return lastActivity;
    }

    public SandboxState state() {
        return state;
    }

    /** Why the last start failed, while the sandbox is broken. */
    public String startFailure() {
        return startFailure;
    }

    /** The running kernel's name (container id), or null. */
    public String kernelName() {
        KernelHandle current = kernel;
        return current == null ? null : current.name();
    }

    private void touch() {
        lastActivity = Instant.now();
    }

    /** Runs code and collects its events, coalesced, as SANDBOX.md's plain JSON response has them. */
    public ExecutionResult execute(String code, Duration timeout, Cancellation cancellation) {
        List<Event> events = new ArrayList<>();
        String status = execute(code, timeout, events::add, true, cancellation);
        return new ExecutionResult(status, events);
    }

    /**
     * Runs code in the kernel, starting one first if needed (start time is not part of timeout),
     * and passes each event to listener as it happens; returns the status. With coalesce, output
     * of one stream is passed on in one piece until something else happens (see {@link
     * OutputGuard}). Cancelling interrupts the code like a timeout does; the status is then
     * {@value ExecutionResult#CANCELLED}.
     */
    public String execute(
            String code, Duration timeout, ExecutionListener listener, boolean coalesce, Cancellation cancellation) {
        if (queued.incrementAndGet() > config.execute().queueSize() + 1) {
            queued.decrementAndGet();
            throw new ServiceException(
                    429,
                    "too many executions are waiting for this sandbox (queue size "
                            + config.execute().queueSize() + "); retry later");
        }
        try {
            executionLock.lockInterruptibly();
        } catch (InterruptedException e) {
            queued.decrementAndGet();
            Thread.currentThread().interrupt();
            throw new ServiceException(503, "interrupted while waiting for the sandbox");
        }
        try {
            if (cancellation.cancelled()) {
                return ExecutionResult.CANCELLED; // the caller left while it waited in the queue
            }
            touch();
            KernelHandle current = ensureKernel();
            state = SandboxState.BUSY;
            Map<String, Workspace.Stamp> before = workspace.snapshot(MAX_TRACKED_FILES);
            OutputGuard guard = new OutputGuard(config.output(), listener, coalesce);
            listener.started();
            long started = System.nanoTime();
            String status = run(current, code, timeout, guard, cancellation);
            guard.finish();
            Instant now = Instant.now();
            Map<String, Workspace.Stamp> after = workspace.snapshot(MAX_TRACKED_FILES);
            after.entrySet().stream()
                    .filter(e -> !e.getValue().equals(before.get(e.getKey())))
                    .sorted(Map.Entry.comparingByKey())
                    .forEach(e -> listener.event(
                            Event.file(now, e.getKey(), e.getValue().size())));
            metrics.executed(status, Duration.ofNanos(System.nanoTime() - started));
            return status;
        } finally {
            state = kernel == null
                    ? (startFailure == null ? SandboxState.STOPPED : SandboxState.BROKEN)
                    : SandboxState.IDLE;
            touch();
            executionLock.unlock();
            queued.decrementAndGet();
        }
    }

    private KernelHandle ensureKernel() {
        KernelHandle current = kernel;
        if (current != null && current.alive()) {
            return current;
        }
        if (current != null) {
            LOG.warnf("kernel %s of sandbox %s died while idle: %s", current.name(), id, current.deathCause());
            discardKernel();
            metrics.kernelRestarted(RestartCause.DIED_IDLE);
        }
        state = SandboxState.STARTING;
        try {
            workspace.create();
            kernel = launcher.launch(id, workspace.root());
            startFailure = null;
            return kernel;
        } catch (KernelStartException | java.io.UncheckedIOException e) {
            startFailure = e.getMessage();
            state = SandboxState.BROKEN;
            LOG.errorf("sandbox %s could not start: %s", id, e.getMessage());
            throw new ServiceException(503, "the sandbox could not be started: " + e.getMessage(), e);
        }
    }

    /** Runs one cell; returns the status. Called with the execution lock held. */
    private String run(
            KernelHandle current, String code, Duration timeout, OutputGuard guard, Cancellation cancellation) {
        long requestId = executions.incrementAndGet();
        var channel = current.channel();
        channel.discardPending(); // output of background threads between cells belongs to no execution
        SandboxConfig.Output caps = config.output();
        try {
            ObjectNode request = channel.request("execute").put("id", requestId).put("code", code);
            // The driver cuts output at the same caps (characters <= UTF-8 bytes, so it never cuts
            // earlier than the guard here), which keeps a runaway print loop out of the pipe.
            request.putObject("limits")
                    .put("stream_chars", caps.maxStreamBytes().asLongValue())
                    .put("display_bytes", caps.maxDisplayBytes().asLongValue())
                    .put("displays", caps.maxDisplays());
            channel.send(request);
        } catch (IOException e) {
            return died(guard);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        cancellation.onCancel(channel::wake);
        try {
            while (true) {
                KernelMessage message = channel.next(deadline - System.nanoTime());
                if (message == null) {
                    return stop(current, requestId, guard, ExecutionResult.TIMEOUT);
                }
                if (message.endOfStream()) {
                    return died(guard);
                }
                if (isDone(message, requestId)) {
                    return ExecutionResult.OK;
                }
                if (message.type().equals(KernelMessage.WAKE)) {
                    if (cancellation.cancelled()) {
                        return stop(current, requestId, guard, ExecutionResult.CANCELLED);
                    }
                    continue;
                }
                guard.accept(message);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            discardKernel();
            throw new ServiceException(503, "interrupted while executing");
        } finally {
            cancellation.onCancel(null);
        }
    }

    private static boolean isDone(KernelMessage message, long requestId) {
        return message.type().equals("done") && message.body().path("id").asLong() == requestId;
    }

    /**
     * Interrupt (after a timeout, or because the caller left); if the kernel is not idle within
     * the grace period, restart it. Returns status.
     */
    private String stop(KernelHandle current, long requestId, OutputGuard guard, String status)
            throws InterruptedException {
        Duration grace = config.execute().interruptGrace();
        long graceDeadline = System.nanoTime() + grace.toNanos();
        try {
            current.interrupt();
        } catch (RuntimeException e) {
            LOG.warnf("cannot interrupt kernel %s: %s", current.name(), e.getMessage());
        }
        while (true) {
            KernelMessage message = current.channel().next(graceDeadline - System.nanoTime());
            if (message == null) {
                break;
            }
            if (message.endOfStream()) {
                died(guard);
                return status;
            }
            if (isDone(message, requestId)) {
                return status; // interrupted in time: state kept
            }
            // output after the deadline (such as the KeyboardInterrupt traceback) is not reported
        }
        LOG.warnf(
                "kernel %s ignored the interrupt for %d ms; restarting sandbox %s",
                current.name(), grace.toMillis(), id);
        discardKernel();
        metrics.kernelRestarted(RestartCause.INTERRUPT_IGNORED);
        String why = status.equals(ExecutionResult.TIMEOUT) ? "the timeout" : "the caller disconnected";
        guard.add(Event.error(
                Instant.now(),
                "SandboxRestarted",
                "the code did not stop within " + seconds(grace) + " of the interrupt after " + why + ", so the"
                        + " sandbox was restarted: variables and imports are lost; files in /mnt/data are kept",
                List.of()));
        return status;
    }

    private String died(OutputGuard guard) {
        KernelHandle current = kernel;
        String cause = current == null ? "unknown" : current.deathCause();
        LOG.warnf("kernel of sandbox %s died during an execution: %s", id, cause);
        discardKernel();
        metrics.kernelRestarted(cause.startsWith("out of memory") ? RestartCause.OUT_OF_MEMORY : RestartCause.DIED);
        guard.add(Event.error(
                Instant.now(),
                "KernelDied",
                "the kernel died during the execution (" + cause + "); the next execution starts a fresh"
                        + " kernel: variables and imports are lost, files in /mnt/data are kept",
                List.of()));
        return ExecutionResult.ERROR;
    }

    private void discardKernel() {
        KernelHandle current = kernel;
        kernel = null;
        if (current != null) {
            current.destroy();
        }
    }

    /** Streams an upload into the workspace (see {@link Workspace#upload}). */
    public long upload(WorkspacePath path, InputStream body, long contentLength) throws IOException {
        transfers.incrementAndGet();
        try {
            touch();
            workspace.create();
            long room = config.limits().workspaceSize().asLongValue() - workspace.usage();
            if (contentLength > room) {
                throw new ServiceException(
                        413,
                        "the file does not fit in the workspace: " + Sizes.human(Math.max(0, room)) + " free of "
                                + Sizes.human(config.limits().workspaceSize().asLongValue()));
            }
            long written = workspace.upload(path, body, room);
            metrics.uploaded(written);
            return written;
        } finally {
            touch();
            transfers.decrementAndGet();
        }
    }

    /** Opens a download; activity is recorded at start and end. */
    public Workspace.Download download(WorkspacePath path) throws IOException {
        transfers.incrementAndGet();
        try {
            touch();
            return workspace.download(path);
        } finally {
            touch();
            transfers.decrementAndGet();
        }
    }

    /** Records activity and the bytes sent for a download still streaming after {@link #download} returned. */
    public void transferEnded(long bytesSent) {
        touch();
        metrics.downloaded(bytesSent);
    }

    /**
     * Tears the sandbox down if it has been idle since before cutoff and nothing is in flight.
     * Returns whether it did. The workspace goes too: the next call starts fresh.
     */
    public boolean reapIfIdle(Instant cutoff) {
        if (!executionLock.tryLock()) {
            return false;
        }
        try {
            if (transfers.get() > 0 || !lastActivity.isBefore(cutoff)) {
                return false;
            }
            boolean hasState = kernel != null || java.nio.file.Files.exists(workspace.root());
            if (!hasState) {
                return false;
            }
            stop();
            return true;
        } finally {
            executionLock.unlock();
        }
    }

    /** Stops the kernel and deletes the workspace. */
    public void stop() {
        executionLock.lock();
        try {
            discardKernel();
            try {
                workspace.delete();
            } catch (RuntimeException e) {
                LOG.warnf("cannot delete workspace of sandbox %s: %s", id, e.getMessage());
            }
            state = SandboxState.STOPPED;
        } finally {
            executionLock.unlock();
        }
    }

    /** Tears down on service shutdown; unlike {@link #stop} it does not wait for a running execution. */
    public void shutdown() {
        discardKernel();
        state = SandboxState.STOPPED;
    }

    private static String seconds(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + " s" : duration.toMillis() + " ms";
    }
}
