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
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 * a sandbox with one in flight. The kernel is checkpointed (paused), restored, replaced after a
 * crash or restart likewise only under the lock; {@link #restart} may destroy a running kernel
 * first, so the execution that ran on it ends at once.
 *
 * <p>Thread-safety: all public methods may be called from any thread.
 */
public final class Sandbox {

    private static final Logger LOG = Logger.getLogger(Sandbox.class);
    private static final int MAX_TRACKED_FILES = 10_000;
    private static final String IDLE = "idle for longer than ";

    private final String id;
    private final SandboxConfig config;
    private final KernelLauncher launcher;
    private final Workspace workspace;
    private final SandboxMetrics metrics;
    private final ReentrantLock executionLock = new ReentrantLock(true);
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicInteger transfers = new AtomicInteger();
    private final AtomicLong executions = new AtomicLong();

    private volatile SandboxSpec spec;
    private final AtomicLong busyNanos = new AtomicLong();
    private volatile Instant createdAt = Instant.now();
    private volatile Instant lastActivity = Instant.now();
    private volatile String crashNotice;
    private volatile Path pausedImage;
    private volatile Instant pausedAt;
    /** Whether the reaper pauses this sandbox at its idle timeout instead of removing it. */
    private volatile boolean pausable;

    private volatile boolean restartRequested;
    private volatile KernelHandle kernel;
    private volatile SandboxState state = SandboxState.STOPPED;
    private volatile String startFailure;

    public Sandbox(
            String id,
            SandboxSpec spec,
            SandboxConfig config,
            KernelLauncher launcher,
            Workspace workspace,
            SandboxMetrics metrics) {
        this.id = id;
        this.spec = spec;
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
        ExecutionResult result = execute(code, timeout, events::add, true, cancellation);
        return new ExecutionResult(result.status(), events, result.usage());
    }

    /**
     * Runs code in the kernel, starting one first if needed (start time is not part of timeout),
     * and passes each event to listener as it happens; returns the status. With coalesce, output
     * of one stream is passed on in one piece until something else happens (see {@link
     * OutputGuard}). Cancelling interrupts the code like a timeout does; the status is then
     * {@value ExecutionResult#CANCELLED}. The result's events are empty: they went to listener.
     */
    public ExecutionResult execute(
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
                // the caller left while it waited in the queue
                return new ExecutionResult(
                        ExecutionResult.CANCELLED, List.of(), new ExecutionResult.Usage(0, null, null));
            }
            touch();
            KernelHandle current = ensureKernel();
            String notice = crashNotice;
            state = SandboxState.BUSY;
            Map<String, Workspace.Stamp> before = workspace.snapshot(MAX_TRACKED_FILES);
            OutputGuard guard = new OutputGuard(config.output(), listener, coalesce);
            listener.started();
            if (notice != null) {
                crashNotice = null;
                guard.add(Event.error(Instant.now(), "KernelDied", notice, List.of()));
            }
            current.resetPeakMemory();
            Optional<Long> cpuBefore = current.cpuNanos();
            long started = System.nanoTime();
            String status = run(current, code, timeout, guard, cancellation);
            long elapsed = System.nanoTime() - started;
            busyNanos.addAndGet(elapsed);
            ExecutionResult.Usage usage = usage(current, elapsed, cpuBefore);
            guard.finish();
            Instant now = Instant.now();
            Map<String, Workspace.Stamp> after = workspace.snapshot(MAX_TRACKED_FILES);
            after.entrySet().stream()
                    .filter(e -> !e.getValue().equals(before.get(e.getKey())))
                    .sorted(Map.Entry.comparingByKey())
                    .forEach(e -> listener.event(
                            Event.file(now, e.getKey(), e.getValue().size())));
            metrics.executed(status, Duration.ofNanos(elapsed));
            return new ExecutionResult(status, List.of(), usage);
        } finally {
            state = kernel != null
                    ? SandboxState.IDLE
                    : pausedImage != null
                            ? SandboxState.PAUSED
                            : startFailure == null ? SandboxState.STOPPED : SandboxState.BROKEN;
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
        if (current == null && pausedImage != null) {
            KernelHandle restored = resume();
            if (restored != null) {
                return restored;
            }
        }
        if (current != null) {
            discardDeadKernel(current);
        }
        state = SandboxState.STARTING;
        try {
            workspace.create();
            KernelHandle fresh = launcher.launch(id, workspace.root(), spec.limits());
            if (!spec.env().isEmpty()) {
                applyEnvironment(fresh);
            }
            kernel = fresh;
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
        String cause = restartRequested ? "restarted by request" : current == null ? "unknown" : current.deathCause();
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

    /**
     * A kernel that died while no execution ran (killed from outside, crashed): tear it down now,
     * and tell the next execution, which starts a fresh one. Called with the execution lock held.
     */
    private void discardDeadKernel(KernelHandle dead) {
        String cause = dead.deathCause();
        LOG.warnf("kernel %s of sandbox %s died while idle: %s", dead.name(), id, cause);
        discardKernel();
        metrics.kernelRestarted(RestartCause.DIED_IDLE);
        crashNotice = "the sandbox's kernel died while idle (" + cause + "); this execution runs in a fresh"
                + " kernel: variables and imports were lost, files in /mnt/data are kept";
    }

    /**
     * The crash watcher's check: tears down a kernel found dead while idle, so runsc state,
     * cgroups and bundle do not wait for the next call. Returns whether it found one.
     */
    public boolean reapDeadKernel() {
        KernelHandle current = kernel;
        if (current == null || current.alive() || !executionLock.tryLock()) {
            return false;
        }
        try {
            if (kernel != current) {
                return false;
            }
            discardDeadKernel(current);
            state = SandboxState.STOPPED;
            return true;
        } finally {
            executionLock.unlock();
        }
    }

    /** Extra environment (POST /sandboxes "env"): set in the kernel's os.environ before any code runs. */
    private void applyEnvironment(KernelHandle fresh) {
        var channel = fresh.channel();
        try {
            var request = channel.request("env").put("id", -1);
            var env = request.putObject("env");
            spec.env().forEach(env::put);
            channel.send(request);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            KernelMessage message;
            while ((message = channel.next(deadline - System.nanoTime())) != null && !message.endOfStream()) {
                if (isDone(message, -1)) {
                    return;
                }
            }
        } catch (IOException e) {
            // fall through: the kernel is unusable
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        fresh.destroy();
        throw new KernelStartException("the kernel did not take its environment variables");
    }

    private ExecutionResult.Usage usage(KernelHandle current, long elapsedNanos, Optional<Long> cpuBefore) {
        Optional<Long> cpuAfter = current.cpuNanos();
        Double cpuMs = cpuBefore.isPresent() && cpuAfter.isPresent()
                ? Math.max(0, cpuAfter.get() - cpuBefore.get()) / 1_000_000.0
                : null;
        return new ExecutionResult.Usage(
                elapsedNanos / 1_000_000.0, cpuMs, current.peakMemory().orElse(null));
    }

    /** POST /sandboxes/{id}/interrupt: SIGINT to the running code, as Ctrl-C would; a no-op when idle. */
    public boolean interrupt() {
        KernelHandle current = kernel;
        if (current == null || state != SandboxState.BUSY) {
            return false;
        }
        current.interrupt();
        return true;
    }

    /**
     * POST /sandboxes/{id}/restart: a fresh kernel for the next execution. A running execution
     * ends at once with a KernelDied event; files in /mnt/data are kept.
     */
    public void restart() {
        restartRequested = true;
        KernelHandle current = kernel;
        if (current != null) {
            current.destroy(); // wakes a running execution with end-of-stream
        }
        executionLock.lock();
        try {
            discardKernel();
            restartRequested = false;
            crashNotice = null;
            discardPausedImage();
            state = SandboxState.STOPPED;
            touch();
        } finally {
            executionLock.unlock();
        }
    }

    /** Memory the sandbox uses now (its cgroup), when it runs and that is known. */
    public Optional<Long> memoryBytes() {
        KernelHandle current = kernel;
        return current == null ? Optional.empty() : current.memoryBytes();
    }

    /** The reaper may pause this sandbox instead of removing it (POST /sandboxes ones, runsc mode). */
    public void pausable(boolean value) {
        pausable = value;
    }

    public boolean pausable() {
        return pausable;
    }

    public SandboxSpec spec() {
        return spec;
    }

    public Instant createdAt() {
        return createdAt;
    }

    /** Total time this sandbox spent executing. */
    public Duration busy() {
        return Duration.ofNanos(busyNanos.get());
    }

    /**
     * When the reaper will remove it if nothing happens: after the idle timeout (plus the time a
     * paused sandbox is kept, when it would be paused first) or at its maximum lifetime.
     */
    public Instant expiresAt() {
        Instant paused = pausedAt;
        Duration keep = config.sandboxes().pause().keep();
        Instant idle = paused != null
                ? paused.plus(keep)
                : lastActivity.plus(spec.idleTimeout()).plus(pausable ? keep : Duration.ZERO);
        Instant lifetime = createdAt.plus(config.sandboxes().maxLifetime());
        return idle.isBefore(lifetime) ? idle : lifetime;
    }

    /** Why the reaper should pause or remove it now, or null: idle, paused too long, too old, out of busy time. */
    String expiry(Instant now) {
        Instant paused = pausedAt;
        if (paused != null) {
            Duration keep = config.sandboxes().pause().keep();
            if (!paused.plus(keep).isAfter(now)) {
                return "paused for longer than " + keep.toSeconds() + " s";
            }
        } else if (!lastActivity.plus(spec.idleTimeout()).isAfter(now)) {
            return IDLE + spec.idleTimeout().toSeconds() + " s";
        }
        if (!createdAt.plus(config.sandboxes().maxLifetime()).isAfter(now)) {
            return "older than its maximum lifetime of "
                    + config.sandboxes().maxLifetime().toSeconds() + " s";
        }
        if (busyNanos.get() >= config.sandboxes().maxBusy().toNanos()) {
            return "busy for longer than its maximum of "
                    + config.sandboxes().maxBusy().toSeconds() + " s";
        }
        return null;
    }

    /** The warm pool's template: checkpoints this sandbox's running kernel to image (the kernel ends). */
    boolean checkpointTo(Path image) {
        executionLock.lock();
        try {
            KernelHandle current = kernel;
            if (current != null && current.checkpoint(image)) {
                kernel = null;
                state = SandboxState.STOPPED;
                return true;
            }
            return false;
        } finally {
            executionLock.unlock();
        }
    }

    /**
     * Pool members: a kernel restored from the template image (which stays for the next one),
     * then reseed. Returns false, with no kernel, when the restore failed.
     */
    boolean startFrom(Path image, String reseed) {
        executionLock.lock();
        try {
            workspace.create();
            kernel = launcher.restore(id, workspace.root(), spec.limits(), image);
            state = SandboxState.IDLE;
        } catch (KernelStartException | java.io.UncheckedIOException e) {
            LOG.warnf("sandbox %s could not start from the template image: %s", id, e.getMessage());
            return false;
        } finally {
            executionLock.unlock();
        }
        warm(reseed, Duration.ofSeconds(30));
        return true;
    }

    /** Pool members: runs the preload code; throws {@link KernelStartException} when it fails. */
    void warm(String code, Duration timeout) {
        List<String> errors = new ArrayList<>();
        ExecutionResult result = execute(
                code,
                timeout,
                event -> {
                    if (event.type().equals("error")) {
                        errors.add(String.valueOf(event.data()));
                    }
                },
                true,
                new Cancellation());
        if (!result.status().equals(ExecutionResult.OK) || !errors.isEmpty()) {
            throw new KernelStartException("the preload code failed (" + result.status() + "): " + errors);
        }
    }

    /**
     * A warm-pool member handed out with its requested spec (same limits, so the running kernel
     * fits): its environment is applied, and its lifetime and idle clock start now.
     */
    void assigned(SandboxSpec requested) {
        executionLock.lock();
        try {
            spec = requested;
            KernelHandle current = kernel;
            if (!requested.env().isEmpty() && current != null) {
                applyEnvironment(current);
            }
            createdAt = Instant.now();
            busyNanos.set(0);
            touch();
        } finally {
            executionLock.unlock();
        }
    }

    /** Streams an upload into the workspace (see {@link Workspace#upload}). */
    public long upload(WorkspacePath path, InputStream body, long contentLength) throws IOException {
        transfers.incrementAndGet();
        try {
            touch();
            workspace.create();
            long room = spec.limits().workspaceBytes() - workspace.usage();
            if (contentLength > room) {
                throw new ServiceException(
                        413,
                        "the file does not fit in the workspace: " + Sizes.human(Math.max(0, room)) + " free of "
                                + Sizes.human(spec.limits().workspaceBytes()));
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

    /** What the reaper did to a sandbox: paused it (kept) or removed it, and why. */
    public record Reaping(boolean paused, String reason) {}

    /**
     * The reaper's pass over one sandbox, never in the middle of a call, a transfer or with calls
     * queued. An expired sandbox is torn down (workspace included) — or, with mayPause and the
     * idle timeout as the reason, checkpointed to disk and kept as {@link SandboxState#PAUSED}.
     * A sandbox paused for longer than sandbox.sandboxes.pause.keep is torn down. Returns what it
     * did, or null.
     */
    public Reaping reapIfExpired(Instant now, boolean mayPause) {
        if (!executionLock.tryLock()) {
            return null;
        }
        try {
            if (transfers.get() > 0 || queued.get() > 0) {
                return null;
            }
            String reason = expiry(now);
            if (reason == null) {
                return null;
            }
            boolean hasState = kernel != null || pausedImage != null || java.nio.file.Files.exists(workspace.root());
            if (!hasState) {
                return null;
            }
            KernelHandle current = kernel;
            if (mayPause && pausedImage == null && reason.startsWith(IDLE) && current != null && current.alive()) {
                Path image = checkpointDirectory();
                if (current.checkpoint(image)) {
                    kernel = null;
                    pausedImage = image;
                    pausedAt = now;
                    state = SandboxState.PAUSED;
                    return new Reaping(true, reason);
                }
            }
            stop();
            return new Reaping(false, reason);
        } finally {
            executionLock.unlock();
        }
    }

    private Path checkpointDirectory() {
        return workspace.root().getParent().resolve("checkpoint");
    }

    /** Forgets a checkpoint image (stop, restart): the next call starts a fresh kernel. */
    private void discardPausedImage() {
        if (pausedImage != null) {
            dev.interpretersandbox.files.Trees.delete(pausedImage);
            pausedImage = null;
            pausedAt = null;
        }
    }

    /**
     * Restores a paused kernel for the next execution; when that fails, a fresh one is started and
     * the execution is told. Called with the execution lock held.
     */
    private KernelHandle resume() {
        Path image = pausedImage;
        pausedImage = null;
        pausedAt = null;
        state = SandboxState.STARTING;
        try {
            KernelHandle restored = launcher.restore(id, workspace.root(), spec.limits(), image);
            kernel = restored;
            startFailure = null;
            return restored;
        } catch (KernelStartException e) {
            LOG.warnf("sandbox %s could not be restored, starting a fresh kernel: %s", id, e.getMessage());
            crashNotice = "the paused sandbox could not be restored (" + e.getMessage() + "); this execution runs"
                    + " in a fresh kernel: variables and imports were lost, files in /mnt/data are kept";
            return null;
        } finally {
            dev.interpretersandbox.files.Trees.delete(image);
        }
    }

    /** Stops the kernel and deletes the workspace; a later call starts afresh, clocks included. */
    public void stop() {
        executionLock.lock();
        try {
            discardKernel();
            createdAt = Instant.now();
            busyNanos.set(0);
            crashNotice = null;
            discardPausedImage();
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
