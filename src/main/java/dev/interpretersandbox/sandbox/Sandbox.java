package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.error.SandboxException.Kind;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.kernel.DriverMessage;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.kernel.KernelStartException;
import dev.interpretersandbox.kernel.RunningCommand;
import dev.interpretersandbox.log.LogSafe;
import dev.interpretersandbox.metrics.SandboxMetrics.RestartCause;
import dev.interpretersandbox.registry.SandboxRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongConsumer;
import org.jboss.logging.Logger;

/**
 * One sandbox: a workspace directory and, while it runs, one kernel in its own isolation.
 *
 * <p>A sandbox is a state machine ({@link SandboxState}): {@link #transition} is the only place
 * its state changes, and it refuses moves the state does not allow, naming both. It runs one
 * {@link Job} at a time (an execution, or an operation such as a pause or a reset) in queue
 * order, with at most {@code sandbox.execute.queue-size} executions waiting behind the running
 * one. Waiting costs no thread: a job is a queue entry until it runs, and a running execution is
 * driven by its kernel's output and by timers. The kernel is started, replaced, paused and torn
 * down only by the job that has the sandbox. File transfers do not take the sandbox (they never
 * touch the kernel) but count as activity: the reaper skips a sandbox with one in flight, but
 * for its maximum lifetime and busy time.
 *
 * <p>A deleted sandbox stays deleted: it takes no job or transfer, a kernel that finishes
 * starting after the delete is torn down at once, and its workspace goes when the last job and
 * transfer are over.
 *
 * <p>A registered sandbox (one a client can address) is durable: its {@link SandboxRecord} is
 * written whenever its kernel starts, is saved or goes away, and its clocks are written by the
 * service's periodic flush, so a restart of the service brings it back.
 *
 * <p>Thread-safety: all public methods may be called from any thread. Fields are guarded by this
 * object's lock, held only for bookkeeping, never while waiting for a kernel or the disk.
 */
public final class Sandbox {

    private static final Logger LOG = Logger.getLogger(Sandbox.class);
    /** How long a kernel may take to apply its environment variables before it counts as broken. */
    private static final Duration ENVIRONMENT_DEADLINE = Duration.ofSeconds(10);
    /** Commands one sandbox runs at once; each holds two reader threads in the service. */
    static final int MAX_COMMANDS = 16;

    private final String id;
    private final SandboxContext context;
    private final Workspace workspace;
    private final Hibernation hibernation;
    private final Deque<Job> jobs = new ArrayDeque<>();
    private final CompletableFuture<Void> quiescent = new CompletableFuture<>();

    private SandboxState state; // written only by the constructor and transition
    private SandboxSpec spec;
    private KernelHandle kernel;
    private Job active;
    private int transfers;
    private String notice;
    private String startFailure;
    private String endReason; // why the running kernel is going away at our own request
    private boolean pausable;
    private Instant createdAt;
    private Instant lastActivity;
    private long busyNanos;
    private boolean registered; // durable: its record is kept under the state directory
    private boolean dirty; // changed since its record was last written
    private int commands; // commands running now
    private int executionsCounted; // E2B's number_of_executions
    private final Map<Long, RunningCommandInfo> running = new LinkedHashMap<>(); // by pid, while they run
    private final Map<String, CodeContext> contexts = new LinkedHashMap<>(); // by id
    private final Object recordLock = new Object(); // one record write at a time, in snapshot order
    /**
     * Where uploads are opened: one at a time, so that a sandbox whose code filled its workspace
     * with entries, each upload's room check walking them all, holds one execution thread at
     * most, however many uploads its client sends at once.
     */
    private final Executor uploadLine;

    private final UploadRoom uploadRoom = new UploadRoom();
    private final Set<Workspace.Upload> uploads = new HashSet<>(); // open ones: a delete ends them

    Sandbox(String id, SandboxSpec spec, SandboxContext context, Workspace workspace) {
        this(id, spec, context, workspace, SandboxState.STOPPED);
    }

    private Sandbox(String id, SandboxSpec spec, SandboxContext context, Workspace workspace, SandboxState state) {
        this.state = state;
        this.id = id;
        this.spec = spec;
        this.context = context;
        this.workspace = workspace;
        this.hibernation = new Hibernation(id, context.layout().checkpoint(id));
        this.uploadLine = new SerialExecutor(context.workers().execution());
        this.createdAt = context.clock().instant();
        this.lastActivity = createdAt;
    }

    /**
     * A sandbox brought back from its record after a restart: same id, spec and clocks, paused
     * when its image was saved, else stopped. notice (or null) is what its next execution is told.
     */
    static Sandbox adopted(SandboxRecord record, SandboxContext context, Workspace workspace, String notice) {
        SandboxRecord.Limits limits = record.limits();
        SandboxSpec spec = new SandboxSpec(
                new KernelLimits(limits.memoryBytes(), limits.cpus(), limits.pids(), limits.workspaceBytes()),
                record.env(),
                Duration.ofMillis(record.idleTimeoutMillis()),
                record.metadata(),
                record.accessTokenHashes());
        boolean saved = record.kernel() == SandboxRecord.KernelState.SAVED;
        Sandbox sandbox =
                new Sandbox(record.id(), spec, context, workspace, saved ? SandboxState.PAUSED : SandboxState.STOPPED);
        synchronized (sandbox) {
            sandbox.createdAt = record.createdAt();
            sandbox.lastActivity = record.lastActivity();
            sandbox.busyNanos = Duration.ofMillis(record.busyMillis()).toNanos();
            sandbox.pausable = record.pausable();
            sandbox.registered = true;
            sandbox.notice = notice;
            if (saved) {
                sandbox.hibernation.adopt(record.pausedAt());
            }
        }
        return sandbox;
    }

    public String id() {
        return id;
    }

    SandboxContext context() {
        return context;
    }

    Workspace workspace() {
        return workspace;
    }

    // ---- state ------------------------------------------------------------------------------

    /**
     * Moves the state from one of from to to. Refuses, naming both states, a move the current
     * state does not allow or a current state not in from. Call with the lock held.
     */
    private void transition(Set<SandboxState> from, SandboxState to) {
        if (!from.contains(state) || !state.next().contains(to)) {
            throw new IllegalStateException(
                    "sandbox " + id + " cannot go from " + state + " to " + to + " (expected to be in " + from + ")");
        }
        state = to;
    }

    private void transition(SandboxState from, SandboxState to) {
        transition(EnumSet.of(from), to);
    }

    public synchronized SandboxState state() {
        return state;
    }

    private void requireLive() {
        if (state == SandboxState.DELETED) {
            throw SandboxException.notFound("no sandbox " + id + " (it was deleted)");
        }
    }

    /** What a client sees of this sandbox, read at once. */
    public synchronized SandboxView view() {
        KernelHandle current = kernel;
        return new SandboxView(
                id,
                state,
                spec,
                createdAt,
                lastActivity,
                context.expiry().expiresAt(clocks()),
                current == null ? null : current.name(),
                Duration.ofNanos(busyNanos),
                startFailure);
    }

    /** Memory the sandbox uses now (its cgroup), when a kernel runs and that is known. */
    public Optional<Long> memoryBytes() {
        KernelHandle current;
        synchronized (this) {
            current = kernel;
        }
        return current == null ? Optional.empty() : current.memoryBytes();
    }

    public synchronized SandboxSpec spec() {
        return spec;
    }

    public synchronized Instant lastActivity() {
        return lastActivity;
    }

    public synchronized Instant createdAt() {
        return createdAt;
    }

    /** The running kernel's name (container id), or null. */
    public synchronized String kernelName() {
        return kernel == null ? null : kernel.name();
    }

    private ExpiryPolicy.Clocks clocks() {
        return new ExpiryPolicy.Clocks(
                createdAt,
                lastActivity,
                Duration.ofNanos(busyNanos),
                spec.idleTimeout(),
                hibernation.pausedAt(),
                pausable);
    }

    private void touch() {
        lastActivity = context.clock().instant();
        dirty = true;
    }

    synchronized void addBusy(long nanos) {
        busyNanos += nanos;
        dirty = true;
    }

    // ---- durability -------------------------------------------------------------------------

    /** From now on this sandbox is durable (a client can address it); the caller persists it. */
    synchronized void register() {
        registered = true;
        dirty = true;
    }

    /** What a restart needs to bring this sandbox back, read at once. Call with the lock held. */
    private SandboxRecord record() {
        SandboxRecord.KernelState kernelState = hibernation.paused()
                ? SandboxRecord.KernelState.SAVED
                : kernel != null ? SandboxRecord.KernelState.RUNNING : SandboxRecord.KernelState.NONE;
        KernelLimits limits = spec.limits();
        return new SandboxRecord(
                SandboxRecord.VERSION,
                id,
                new SandboxRecord.Limits(limits.memoryBytes(), limits.cpus(), limits.pids(), limits.workspaceBytes()),
                spec.env(),
                spec.idleTimeout().toMillis(),
                createdAt,
                lastActivity,
                Duration.ofNanos(busyNanos).toMillis(),
                kernelState,
                hibernation.pausedAt(),
                pausable,
                notice,
                spec.metadata(),
                spec.accessTokenHashes());
    }

    /**
     * Writes this sandbox's record now, when it is registered and not deleted (never with the
     * sandbox's lock held: the write is synced to disk). A write that fails is logged and retried
     * by the next flush.
     */
    void persist() {
        synchronized (recordLock) {
            SandboxRecord snapshot;
            synchronized (this) {
                if (!registered || state == SandboxState.DELETED) {
                    return;
                }
                snapshot = record();
                dirty = false;
            }
            try {
                context.records().save(snapshot);
            } catch (UncheckedIOException e) {
                LOG.warnf("cannot save the record of sandbox %s: %s", id, LogSafe.quote(e.getMessage()));
                synchronized (this) {
                    dirty = true;
                }
            }
        }
    }

    /** Deletes the record of this (deleted) sandbox: a restart does not bring it back. */
    void forget() {
        synchronized (recordLock) {
            context.records().delete(id);
        }
    }

    /** The periodic flush: writes the record when the clocks changed since the last write. */
    void flush() {
        synchronized (this) {
            if (!dirty) {
                return;
            }
        }
        persist();
    }

    /** The reaper may pause this sandbox instead of removing it. */
    synchronized void pausable(boolean value) {
        pausable = value;
    }

    /**
     * E2B's autoPause=false: at its idle timeout the sandbox is removed, not paused, whatever
     * sandbox.sandboxes.pause.enabled says (true cannot make a backend pause that cannot).
     */
    public synchronized void neverPause() {
        pausable = false;
        dirty = true;
    }

    /**
     * Starts the kernel now (restoring a paused sandbox) rather than at the next execution: E2B's
     * connect resumes a paused sandbox. Completes once it runs.
     */
    public CompletionStage<Void> wake() {
        return exclusive(true, () -> {
            ensureKernel();
            return null;
        });
    }

    synchronized boolean pausable() {
        return pausable;
    }

    // ---- jobs -------------------------------------------------------------------------------

    /**
     * Queues an execution; its events go to sink as they happen. Throws BUSY when this sandbox's
     * queue, or the service-wide count of waiting executions, is full.
     */
    public Execution execute(ExecutionRequest request, EventSink sink) {
        Execution execution = new Execution(this, context, request, sink);
        synchronized (this) {
            requireLive();
            if (registered) {
                context.draining().refuseNewWork(); // warm-pool preloads may still finish
            }
            int queueSize = context.config().execute().queueSize();
            long waiting = jobs.stream().filter(job -> job instanceof Execution).count();
            long running = active instanceof Execution ? 1 : 0;
            if (waiting + running >= queueSize + 1) {
                throw SandboxException.busy(
                        "too many executions are waiting for this sandbox (queue size " + queueSize + "); retry later");
            }
            boolean waits = active != null || !jobs.isEmpty();
            if (waits) {
                if (!context.admission().enter()) {
                    throw SandboxException.busy("too many executions are waiting across the service ("
                            + context.admission().max() + "); retry later");
                }
                execution.admitted = true;
            }
            jobs.add(execution);
            touch();
        }
        pump();
        return execution;
    }

    /** A job leaves the queue (it starts, is withdrawn or abandoned): its waiting slot is free. */
    private void leftQueue(Job job) {
        if (job instanceof Execution execution && execution.admitted) {
            execution.admitted = false;
            context.admission().leave();
        }
    }

    /** Whether no job runs or waits (tests wait for this after a result). */
    synchronized boolean settled() {
        return active == null && jobs.isEmpty();
    }

    /** Shutdown: waits until no job runs or waits, until deadline (System.nanoTime); false when it did not. */
    synchronized boolean awaitSettled(long deadline) {
        while (active != null || !jobs.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** What the next execution after a restart is told before its code runs. */
    synchronized void tellAfterRestart(String message) {
        notice = message;
    }

    /** Removes a job that has not started; false when it already runs. */
    synchronized boolean withdraw(Job job) {
        if (jobs.remove(job)) {
            leftQueue(job);
            return true;
        }
        return false;
    }

    /** Queues a blocking operation that needs the sandbox to itself; first puts it ahead of the queue. */
    <T> CompletionStage<T> exclusive(boolean first, Callable<T> task) {
        Operation<T> operation = new Operation<>(this, task);
        synchronized (this) {
            requireLive();
            if (first) {
                jobs.addFirst(operation);
            } else {
                jobs.addLast(operation);
            }
        }
        pump();
        return operation.result();
    }

    /** Starts the next job when none runs. */
    private void pump() {
        Job next;
        synchronized (this) {
            if (active != null || state == SandboxState.DELETED) {
                return;
            }
            next = jobs.poll();
            if (next == null) {
                return;
            }
            active = next;
            leftQueue(next);
        }
        next.start();
    }

    /** A job is over: the sandbox is free for the next one. */
    void finished(Job job) {
        synchronized (this) {
            if (active != job) {
                return;
            }
            active = null;
            if (state == SandboxState.BUSY) {
                transition(SandboxState.BUSY, kernel != null ? SandboxState.IDLE : SandboxState.STOPPED);
            }
            touch();
            checkQuiescent();
            notifyAll(); // a shutdown may wait for the sandbox to settle
        }
        pump();
    }

    /** An execution that has the sandbox: a kernel, then the code (execution thread). */
    void runExecution(Execution execution) {
        if (!execution.prepare()) {
            execution.skip();
            return;
        }
        KernelHandle ready;
        synchronized (this) {
            ready = kernel != null && kernel.alive() && state == SandboxState.IDLE ? kernel : null;
        }
        if (ready != null) {
            begin(execution, ready);
            return;
        }
        context.workers().lifecycle().execute(() -> {
            KernelHandle started;
            try {
                started = ensureKernel();
            } catch (SandboxException e) {
                execution.failBeforeStart(e);
                return;
            }
            context.workers().execution().execute(() -> begin(execution, started));
        });
    }

    private void begin(Execution execution, KernelHandle ready) {
        String told;
        synchronized (this) {
            if (state == SandboxState.DELETED) {
                told = null;
            } else {
                transition(SandboxState.IDLE, SandboxState.BUSY);
                told = notice == null ? "" : notice;
                notice = null;
            }
        }
        if (told == null) {
            execution.failBeforeStart(SandboxException.notFound("no sandbox " + id + " (it was deleted)"));
            return;
        }
        execution.begin(ready, told.isEmpty() ? null : told);
    }

    /**
     * The running kernel, started, restored or replaced first when needed (lifecycle thread, with
     * the sandbox held by the calling job). Throws UNAVAILABLE with the diagnosis when no kernel
     * can start, NOT_FOUND when the sandbox was deleted meanwhile.
     */
    private KernelHandle ensureKernel() {
        KernelHandle dead = null;
        boolean resume;
        synchronized (this) {
            requireLive();
            if (kernel != null && kernel.alive()) {
                return kernel;
            }
            if (kernel != null) {
                dead = kernel;
                kernel = null;
                transition(EnumSet.of(SandboxState.IDLE, SandboxState.BUSY), SandboxState.STOPPED);
            }
            resume = hibernation.paused();
            transition(
                    EnumSet.of(SandboxState.STOPPED, SandboxState.BROKEN, SandboxState.PAUSED), SandboxState.STARTING);
        }
        if (dead != null) {
            discardDeadKernel(dead);
        }
        KernelHandle fresh;
        try {
            workspace.create();
            fresh = resume ? hibernation.resume(context.launcher(), workspace.root(), spec().limits()) : null;
            if (resume && fresh == null) {
                tell("the paused sandbox could not be restored (" + hibernation.lastFailure() + "); this execution"
                        + " runs in a fresh kernel: variables and imports were lost, files in /mnt/data are kept");
            }
            boolean launched = false;
            if (fresh == null) {
                fresh = context.launcher().launch(id, workspace.root(), spec().limits());
                launched = true;
            }
            applyEnvironment(fresh, spec().env());
            if (launched) {
                recreateContexts(fresh); // a new kernel: the contexts are there again, empty
            }
        } catch (KernelStartException | UncheckedIOException e) {
            synchronized (this) {
                startFailure = e.getMessage();
                if (state != SandboxState.DELETED) {
                    transition(SandboxState.STARTING, SandboxState.BROKEN);
                }
            }
            LOG.errorf("sandbox %s could not start: %s", id, LogSafe.quote(e.getMessage()));
            throw new SandboxException(Kind.UNAVAILABLE, "the sandbox could not be started: " + e.getMessage(), e);
        }
        boolean started = false;
        synchronized (this) {
            if (state != SandboxState.DELETED) {
                kernel = fresh;
                startFailure = null;
                transition(SandboxState.STARTING, SandboxState.IDLE);
                started = true;
            }
        }
        if (started) {
            persist(); // a kernel runs: a crash from now on loses its variables, and says so
            return fresh;
        }
        fresh.destroy(); // deleted while it started: it must not outlive its sandbox
        throw SandboxException.notFound("no sandbox " + id + " (it was deleted)");
    }

    private synchronized void tell(String message) {
        notice = message;
    }

    /** Extra environment (POST /sandboxes "env"): set in the kernel's os.environ before any code runs. */
    private void applyEnvironment(KernelHandle fresh, Map<String, String> env) {
        if (env.isEmpty()) {
            return;
        }
        DriverMessage answer;
        try {
            answer = fresh.driver().setEnvironment(env, ENVIRONMENT_DEADLINE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            answer = null;
        }
        if (!(answer instanceof DriverMessage.Done)) {
            fresh.destroy();
            throw new KernelStartException("the kernel did not take its environment variables");
        }
    }

    /** A kernel found dead while no execution ran: torn down, and the next execution is told. */
    private void discardDeadKernel(KernelHandle dead) {
        String cause = dead.deathCause();
        LOG.warnf("kernel %s of sandbox %s died while idle: %s", dead.name(), id, LogSafe.quote(cause));
        context.metrics().kernelRestarted(cause.contains("protocol") ? RestartCause.PROTOCOL : RestartCause.DIED_IDLE);
        dead.destroy();
        tell("the sandbox's kernel died while idle (" + cause + "); this execution runs in a fresh"
                + " kernel: variables and imports were lost, files in /mnt/data are kept");
        persist();
    }

    /** Tears down a kernel that an execution gave up on (lifecycle thread). */
    void discardKernel(KernelHandle gone, RestartCause cause) {
        synchronized (this) {
            if (kernel == gone) {
                kernel = null;
            }
        }
        context.metrics().kernelRestarted(cause);
        gone.destroy();
        persist();
    }

    /** Why a kernel went away during an execution: at our request, or its own death cause. */
    String deathCause(KernelHandle gone) {
        String requested;
        synchronized (this) {
            requested = endReason;
        }
        return requested != null ? requested : gone.deathCause();
    }

    // ---- operations -------------------------------------------------------------------------

    /** POST /sandboxes/{id}/interrupt: SIGINT to the running code, as Ctrl-C would; false when idle. */
    public CompletionStage<Boolean> interrupt() {
        KernelHandle running;
        synchronized (this) {
            requireLive();
            running = state == SandboxState.BUSY ? kernel : null;
        }
        if (running == null) {
            return CompletableFuture.completedFuture(false);
        }
        return CompletableFuture.supplyAsync(
                () -> {
                    running.interrupt();
                    return true;
                },
                context.workers().lifecycle());
    }

    /**
     * A new idle timeout from now on (E2B's set_timeout): the reaper pauses or removes the sandbox
     * once it has been idle that long, counted from this call.
     */
    public synchronized void idleTimeout(Duration timeout) {
        requireLive();
        spec = spec.withIdleTimeout(timeout);
        touch();
    }

    /**
     * Starts a shell command next to the kernel (POST .../commands, E2B's commands.run): at once
     * when the kernel runs, even while code executes; else after the jobs ahead, with the kernel
     * started or restored first. The command counts as activity until it ends. The sandbox's own
     * environment applies, then the command's.
     */
    public CompletionStage<RunningCommand> startCommand(CommandSpec command) {
        KernelHandle running;
        synchronized (this) {
            requireLive();
            if (commands >= MAX_COMMANDS) {
                throw SandboxException.unavailable(
                        "this sandbox already runs " + MAX_COMMANDS + " commands; retry once one has ended",
                        Duration.ofSeconds(1));
            }
            // The slot and the transfer are taken now: no burst gets past the cap, and neither
            // the reaper nor a pause checkpoints the container while the command starts.
            commands++;
            transfers++;
            touch();
            running = state == SandboxState.IDLE || state == SandboxState.BUSY ? kernel : null;
        }
        CompletionStage<RunningCommand> started;
        try {
            if (running != null && running.alive()) {
                KernelHandle on = running;
                started = CompletableFuture.supplyAsync(
                        () -> launchCommand(on, command), context.workers().lifecycle());
            } else {
                started = exclusive(true, () -> launchCommand(ensureKernel(), command));
            }
        } catch (RuntimeException e) {
            commandEnded();
            throw e;
        }
        return started.whenComplete((ok, failure) -> {
            if (failure != null) {
                commandEnded();
            }
        });
    }

    /** Starts the command; its slot and transfer were taken by the caller, and end with it. */
    private RunningCommand launchCommand(KernelHandle on, CommandSpec command) {
        Map<String, String> env = new LinkedHashMap<>(spec().env());
        env.putAll(command.env());
        RunningCommand started;
        try {
            started = on.command(new CommandSpec(command.shellCommand(), command.workspacePath(), env, command.root()));
        } catch (IOException | RuntimeException e) {
            throw new SandboxException(Kind.UNAVAILABLE, "the command could not be started: " + e.getMessage(), e);
        }
        RunningCommandInfo info = new RunningCommandInfo(started.pid(), command, started);
        long begun = System.nanoTime();
        synchronized (this) {
            running.put(started.pid(), info);
        }
        started.exit().whenComplete((code, failure) -> {
            synchronized (this) {
                running.remove(started.pid(), info);
            }
            addBusy(System.nanoTime() - begun); // a command's time counts as busy, as an execution's does
            commandEnded();
        });
        return started;
    }

    /** A command that runs now: its pid, what was asked for, and the handle to signal it. */
    public record RunningCommandInfo(long pid, CommandSpec spec, RunningCommand command) {}

    /** Commands running now, oldest first (E2B's process List). */
    public synchronized List<RunningCommandInfo> runningCommands() {
        return List.copyOf(running.values());
    }

    private void commandEnded() {
        synchronized (this) {
            commands--;
        }
        endTransfer();
    }

    /** Counts one more execution and returns the count (E2B's execution_count). */
    public synchronized int countExecution() {
        return ++executionsCounted;
    }

    /** A code context (E2B's): a namespace and working directory of its own in the sandbox's kernel. */
    public record CodeContext(String id, String language, String cwd) {}

    /** Code contexts one sandbox keeps at most. */
    static final int MAX_CONTEXTS = 32;

    public synchronized List<CodeContext> contexts() {
        return List.copyOf(contexts.values());
    }

    public synchronized Optional<CodeContext> context(String contextId) {
        return Optional.ofNullable(contexts.get(contextId));
    }

    /** Makes a context whose code starts in cwd (a path inside the sandbox), the kernel started first. */
    public CompletionStage<CodeContext> createContext(String cwd) {
        synchronized (this) {
            requireLive();
            if (contexts.size() >= MAX_CONTEXTS) {
                throw SandboxException.busy("this sandbox has " + MAX_CONTEXTS + " contexts; delete one first");
            }
        }
        CodeContext made = new CodeContext(UUID.randomUUID().toString(), "python", cwd);
        return exclusive(false, () -> {
            contextOp(ensureKernel(), "context_create", made);
            synchronized (this) {
                contexts.put(made.id(), made);
            }
            return made;
        });
    }

    /** Empties a context's namespace; false when there is no such context. */
    public CompletionStage<Boolean> restartContext(String contextId) {
        return exclusive(false, () -> {
            CodeContext known = context(contextId).orElse(null);
            if (known == null) {
                return false;
            }
            contextOp(ensureKernel(), "context_create", known);
            return true;
        });
    }

    /** Deletes a context and its namespace; false when there is no such context. */
    public CompletionStage<Boolean> deleteContext(String contextId) {
        return exclusive(false, () -> {
            KernelHandle running;
            synchronized (this) {
                if (contexts.remove(contextId) == null) {
                    return false;
                }
                running = kernel;
            }
            if (running != null && running.alive()) {
                contextOp(running, "context_delete", new CodeContext(contextId, "python", null));
            }
            return true;
        });
    }

    /** Best effort: a context that cannot be made again answers ContextNotFound when used. */
    private void recreateContexts(KernelHandle fresh) {
        for (CodeContext known : contexts()) {
            try {
                contextOp(fresh, "context_create", known);
            } catch (SandboxException e) {
                LOG.warnf("sandbox %s: context %s not made again: %s", id, known.id(), e.getMessage());
            }
        }
    }

    private static void contextOp(KernelHandle on, String op, CodeContext target) {
        DriverMessage answer;
        try {
            answer = on.driver().context(op, target.id(), target.cwd(), ENVIRONMENT_DEADLINE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            answer = null;
        }
        if (!(answer instanceof DriverMessage.Done)) {
            throw new SandboxException(Kind.UNAVAILABLE, "the kernel did not answer a context request (" + op + ")");
        }
    }

    /** Accepts one more access token from now on (E2B's connect hands each client its own). */
    public void addAccessToken(String tokenHash) {
        synchronized (this) {
            requireLive();
            spec = spec.withAnotherToken(tokenHash);
        }
        persist(); // before the token is handed out: a crash must not lock its holder out
    }

    /**
     * Pauses the sandbox now, as the reaper does at its idle timeout, after the jobs queued before
     * it. True when it is paused afterwards; false when there is nothing to save (no kernel runs)
     * or this backend cannot checkpoint, and then it stays as it was.
     */
    public CompletionStage<Boolean> pause() {
        return exclusive(false, () -> {
            KernelHandle running;
            synchronized (this) {
                if (state == SandboxState.PAUSED) {
                    return true;
                }
                // A command's processes would be saved half-way (and this runsc cannot restore a
                // container with exec'd processes in it): not while one runs.
                if (state != SandboxState.IDLE
                        || commands > 0
                        || kernel == null
                        || !kernel.alive()
                        || !context.launcher().canCheckpoint()) {
                    return false;
                }
                transition(SandboxState.IDLE, SandboxState.PAUSING);
                running = kernel;
            }
            boolean paused = hibernation.pause(running, context.clock().instant());
            synchronized (this) {
                if (paused) {
                    kernel = null;
                    transition(SandboxState.PAUSING, SandboxState.PAUSED);
                } else {
                    transition(SandboxState.PAUSING, SandboxState.IDLE);
                }
            }
            persist();
            return paused;
        });
    }

    /**
     * POST /sandboxes/{id}/restart: a fresh kernel for the next execution. A running execution
     * ends at once with a KernelDied event; files in /mnt/data are kept.
     */
    public CompletionStage<Void> restart() {
        KernelHandle running;
        synchronized (this) {
            requireLive();
            running = kernel;
            endReason = "restarted by request";
        }
        if (running != null) {
            context.workers().lifecycle().execute(running::destroy); // ends a running execution now
        }
        return exclusive(true, () -> {
            KernelHandle left;
            synchronized (this) {
                left = kernel;
                kernel = null;
                endReason = null;
                notice = null;
                if (state != SandboxState.STOPPED && state != SandboxState.DELETED) {
                    transition(
                            EnumSet.of(SandboxState.IDLE, SandboxState.BROKEN, SandboxState.PAUSED),
                            SandboxState.STOPPED);
                }
                touch();
            }
            if (left != null) {
                left.destroy();
            }
            hibernation.discard();
            persist();
            return null;
        });
    }

    /** What the reaper did to a sandbox: paused it (kept) or removed it, and why. */
    public record Reaping(boolean paused, ExpiryPolicy.Expiry why) {}

    /**
     * The reaper's pass: when the sandbox expired and is not in a job, a transfer or with jobs
     * queued, it is paused to disk (mayPause, expired for being idle, a kernel that can be
     * checkpointed) or stopped with its workspace deleted. In use, only its maximum lifetime or
     * busy time count: then the answer is a removal, which the service carries out (its delete
     * ends what runs). Empty when nothing was done.
     */
    public CompletionStage<Optional<Reaping>> reapIfExpired(Instant now, boolean mayPause) {
        ExpiryPolicy.Expiry why;
        boolean pause;
        Operation<Optional<Reaping>> operation;
        synchronized (this) {
            if (state == SandboxState.DELETED) {
                return CompletableFuture.completedFuture(Optional.empty());
            }
            if (active != null || !jobs.isEmpty() || transfers > 0) {
                // In use: not paused or reset under its user. But a user can keep a sandbox in use
                // for good (commands chained, an upload trickled in under the stall timeout, a queue
                // never empty), so its hard limits end it even then: the service removes it, and
                // the delete ends what runs. The default sandbox is only ever reset, never removed.
                return CompletableFuture.completedFuture(
                        id.equals(SandboxService.DEFAULT)
                                ? Optional.empty()
                                : context.expiry().hardLimit(clocks(), now).map(limit -> new Reaping(false, limit)));
            }
            Optional<ExpiryPolicy.Expiry> expired = context.expiry().check(clocks(), now);
            if (expired.isEmpty() || !hasState()) {
                return CompletableFuture.completedFuture(Optional.empty());
            }
            why = expired.get();
            if (why.reason() == ExpiryPolicy.Reason.IDLE
                    && mayPause
                    && state == SandboxState.PAUSED
                    && hibernation.pausedAt() == null) {
                // Saved at a shutdown and idle since: it counts as paused from when the reaper would
                // have paused it, so the time it may stay paused runs on across restarts.
                hibernation.idleSince(lastActivity.plus(spec.idleTimeout()));
                dirty = true;
                Optional<ExpiryPolicy.Expiry> after = context.expiry().check(clocks(), now);
                if (after.isEmpty()) {
                    return CompletableFuture.completedFuture(Optional.of(new Reaping(true, why)));
                }
                why = after.get();
            }
            pause = mayPause
                    && why.reason() == ExpiryPolicy.Reason.IDLE
                    && state == SandboxState.IDLE
                    && kernel != null
                    && kernel.alive()
                    && context.launcher().canCheckpoint();
            if (pause) {
                transition(SandboxState.IDLE, SandboxState.PAUSING);
            }
            boolean pausing = pause;
            ExpiryPolicy.Expiry reason = why;
            operation = new Operation<>(this, () -> pausing ? pauseNow(now, reason) : stopNow(reason));
            active = operation;
        }
        operation.start();
        return operation.result();
    }

    private boolean hasState() {
        return kernel != null || hibernation.paused() || Files.exists(workspace.root());
    }

    /** Checkpoints the kernel; when that fails, the sandbox is stopped instead (lifecycle thread). */
    private Optional<Reaping> pauseNow(Instant now, ExpiryPolicy.Expiry why) {
        KernelHandle running;
        synchronized (this) {
            running = kernel;
        }
        if (hibernation.pause(running, now)) {
            synchronized (this) {
                kernel = null;
                transition(SandboxState.PAUSING, SandboxState.PAUSED);
            }
            persist();
            return Optional.of(new Reaping(true, why));
        }
        synchronized (this) {
            transition(SandboxState.PAUSING, SandboxState.IDLE);
        }
        return stopNow(why);
    }

    /** Stops the kernel and deletes the workspace; a later call starts afresh, clocks included. */
    private Optional<Reaping> stopNow(ExpiryPolicy.Expiry why) {
        reset(true);
        return Optional.of(new Reaping(false, why));
    }

    /**
     * Kernel, image and notices gone, clocks from now; with wipe, the workspace too (job held).
     * The state says stopped only once the kernel is torn down.
     */
    private void reset(boolean wipe) {
        KernelHandle left;
        synchronized (this) {
            left = kernel;
        }
        if (left != null) {
            left.destroy();
        }
        hibernation.discard();
        if (wipe) {
            try {
                workspace.delete();
            } catch (RuntimeException e) {
                LOG.warnf("cannot delete workspace of sandbox %s: %s", id, LogSafe.quote(e.getMessage()));
            }
        }
        synchronized (this) {
            if (kernel == left) {
                kernel = null;
            }
            notice = null;
            createdAt = context.clock().instant();
            busyNanos = 0;
            if (state != SandboxState.STOPPED && state != SandboxState.DELETED) {
                transition(
                        EnumSet.of(SandboxState.IDLE, SandboxState.PAUSED, SandboxState.BROKEN, SandboxState.PAUSING),
                        SandboxState.STOPPED);
            }
        }
        persist();
    }

    /**
     * DELETE: from now on the sandbox takes nothing; queued executions fail, a running one ends
     * (its kernel is torn down at once), and the workspace is deleted once the last job and
     * transfer are over. The stage completes then. A second delete is NOT_FOUND.
     */
    public CompletionStage<Void> delete() {
        List<Job> dropped;
        KernelHandle running;
        List<Workspace.Upload> writing;
        List<RunningCommandInfo> commanding;
        synchronized (this) {
            requireLive();
            transition(EnumSet.allOf(SandboxState.class), SandboxState.DELETED);
            dropped = new ArrayList<>(jobs);
            jobs.clear();
            running = kernel;
            kernel = null;
            endReason = "the sandbox was deleted";
            dropped.forEach(this::leftQueue);
            writing = new ArrayList<>(uploads);
            commanding = new ArrayList<>(this.running.values());
            checkQuiescent();
        }
        SandboxException gone = SandboxException.notFound("no sandbox " + id + " (it was deleted)");
        dropped.forEach(job -> job.abandon(gone));
        if (running != null) {
            context.workers().lifecycle().execute(running::destroy); // a running execution ends now
        }
        // Uploads and commands end now too, not when their clients stop: a client could otherwise
        // keep the workspace (and, in process mode, its processes) after the sandbox is gone.
        context.workers().lifecycle().execute(() -> {
            writing.forEach(Workspace.Upload::close); // not committed: the partial file goes
            for (RunningCommandInfo command : commanding) {
                try {
                    command.command().signal("KILL");
                } catch (RuntimeException e) {
                    LOG.debugf("sandbox %s: cannot end command %d: %s", id, command.pid(), e.getMessage());
                }
            }
        });
        return quiescent.thenRunAsync(
                () -> {
                    hibernation.discard();
                    try {
                        workspace.delete();
                    } catch (RuntimeException e) {
                        LOG.warnf("cannot delete workspace of sandbox %s: %s", id, LogSafe.quote(e.getMessage()));
                    }
                },
                context.workers().lifecycle());
    }

    private void checkQuiescent() {
        if (state == SandboxState.DELETED && active == null && transfers == 0) {
            quiescent.complete(null);
        }
    }

    /**
     * The crash watcher's check (any thread): a kernel found dead or broken while no job runs is
     * torn down now, so runsc state, cgroups and bundle do not wait for the next call; the next
     * execution is told. Returns whether it found one.
     */
    public boolean checkKernel() {
        KernelHandle dead;
        synchronized (this) {
            if (kernel == null || active != null || state != SandboxState.IDLE || kernel.alive()) {
                return false;
            }
            dead = kernel;
            kernel = null;
            transition(SandboxState.IDLE, SandboxState.STOPPED);
        }
        discardDeadKernel(dead);
        return true;
    }

    // ---- shutdown ---------------------------------------------------------------------------

    /** What a shutdown did with a sandbox's kernel. */
    enum Saved {
        /** Checkpointed: the next execution after the restart resumes it, variables kept. */
        SAVED,
        /** No kernel ran: nothing to save. */
        IDLE,
        /** The kernel could not be checkpointed: it is gone, files kept, and the next execution is told. */
        LOST
    }

    /**
     * Shutdown, once the grace is over: executions still waiting are refused (503, retry after the
     * restart) and the running one is interrupted, with an error event that says why.
     */
    void interruptForShutdown() {
        List<Job> dropped = new ArrayList<>();
        Job running;
        synchronized (this) {
            for (Job job : jobs) {
                if (job instanceof Execution) {
                    dropped.add(job);
                }
            }
            jobs.removeAll(dropped);
            dropped.forEach(this::leftQueue);
            running = active;
        }
        dropped.forEach(job -> job.abandon(SandboxException.unavailable(
                "the service is shutting down; retry in a moment (the sandbox is saved and comes back with it)",
                Draining.RETRY_AFTER)));
        if (running instanceof Execution execution) {
            execution.interruptForShutdown();
        }
    }

    /**
     * Shutdown: after what runs now, the kernel is checkpointed to the sandbox's image (its idle
     * clock keeps running) and the record says so; a kernel that cannot be checkpointed is torn
     * down, and the next execution after the restart is told that its variables were lost.
     */
    CompletionStage<Saved> saveForShutdown() {
        return exclusive(false, () -> {
            KernelHandle running;
            synchronized (this) {
                running = state == SandboxState.IDLE && kernel != null && kernel.alive() ? kernel : null;
                if (running != null) {
                    transition(SandboxState.IDLE, SandboxState.PAUSING);
                }
            }
            if (running == null) {
                persist();
                return Saved.IDLE;
            }
            if (context.launcher().canCheckpoint() && hibernation.pause(running, null)) {
                synchronized (this) {
                    kernel = null;
                    transition(SandboxState.PAUSING, SandboxState.PAUSED);
                }
                persist();
                return Saved.SAVED;
            }
            synchronized (this) {
                kernel = null;
                transition(SandboxState.PAUSING, SandboxState.STOPPED);
                notice = context.launcher().canCheckpoint()
                        ? "the service restarted and this sandbox's kernel could not be saved; this execution runs in"
                                + " a fresh kernel: variables and imports were lost, files in /mnt/data are kept"
                        : "the service restarted; in this isolation mode kernels cannot be saved, so this execution"
                                + " runs in a fresh kernel: variables and imports were lost, files in /mnt/data are kept";
            }
            running.destroy();
            persist();
            return Saved.LOST;
        });
    }

    /** On service shutdown: the kernel goes now, whatever runs (a running execution ends). */
    public void shutdown() {
        KernelHandle running;
        synchronized (this) {
            running = kernel;
            kernel = null;
            endReason = "the service is shutting down";
            if (state == SandboxState.IDLE) {
                transition(SandboxState.IDLE, SandboxState.STOPPED);
            }
        }
        if (running != null) {
            running.destroy();
        }
    }

    // ---- warm pool --------------------------------------------------------------------------

    /** Pool members and tests: runs code to the end and throws when it did not succeed. */
    void warm(String code, Duration timeout) {
        CollectingSink sink = new CollectingSink();
        execute(new ExecutionRequest(code, timeout, true), sink);
        ExecutionResult result = sink.await(timeout.plusSeconds(120));
        List<Event> errors =
                sink.events().stream().filter(e -> e.type().equals(Event.ERROR)).toList();
        if (result.status() != ExecutionStatus.OK || !errors.isEmpty()) {
            throw new KernelStartException(
                    "the preload code failed (" + result.status().wire() + "): "
                            + errors.stream().map(e -> String.valueOf(e.data())).toList());
        }
    }

    /** The warm pool's template: checkpoints the running kernel to image (the kernel ends). */
    boolean checkpointTo(Path image) {
        return join(exclusive(false, () -> {
            KernelHandle running;
            synchronized (this) {
                running = state == SandboxState.IDLE ? kernel : null;
            }
            if (running == null || !running.checkpoint(image)) {
                return false;
            }
            synchronized (this) {
                kernel = null;
                transition(SandboxState.IDLE, SandboxState.STOPPED);
            }
            return true;
        }));
    }

    /**
     * Pool members: a kernel restored from the template image (which stays for the next one),
     * then reseed. Returns false, with no kernel, when the restore failed.
     */
    boolean startFrom(Path image, String reseed, Duration reseedTimeout) {
        boolean restored = join(exclusive(false, () -> {
            synchronized (this) {
                transition(SandboxState.STOPPED, SandboxState.STARTING);
            }
            try {
                workspace.create();
                KernelHandle fresh = context.launcher().restore(id, workspace.root(), spec().limits(), image);
                synchronized (this) {
                    kernel = fresh;
                    transition(SandboxState.STARTING, SandboxState.IDLE);
                }
                return true;
            } catch (KernelStartException | UncheckedIOException e) {
                LOG.warnf("sandbox %s could not start from the template image: %s", id, LogSafe.quote(e.getMessage()));
                synchronized (this) {
                    transition(SandboxState.STARTING, SandboxState.STOPPED);
                }
                return false;
            }
        }));
        if (restored) {
            warm(reseed, reseedTimeout);
        }
        return restored;
    }

    /** Its lifetime, busy time and idle clock start now (a warm-pool member handed out). */
    synchronized void startClocks() {
        createdAt = context.clock().instant();
        busyNanos = 0;
        touch();
    }

    /**
     * A warm-pool member handed out with its requested spec (same limits, so the running kernel
     * fits): its environment is applied, and its lifetime and idle clock start now.
     */
    CompletionStage<Void> assigned(SandboxSpec requested) {
        return exclusive(true, () -> {
            KernelHandle running;
            synchronized (this) {
                spec = requested;
                running = kernel;
                startClocks();
            }
            if (running != null) {
                applyEnvironment(running, requested.env());
            }
            return null;
        });
    }

    /**
     * Stops the kernel and deletes the workspace, after what runs now; the next call starts
     * afresh. DELETE of the default sandbox, a pool member that failed, the template builder.
     */
    public CompletionStage<Void> wipe() {
        return exclusive(true, () -> {
            reset(true);
            return null;
        });
    }

    void stop() {
        join(wipe());
    }

    private static <T> T join(CompletionStage<T> stage) {
        try {
            return stage.toCompletableFuture().join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw e;
        }
    }

    // ---- transfers --------------------------------------------------------------------------

    /** Where {@link #openUpload} is to be called: this sandbox's uploads, one at a time, on the execution threads. */
    public Executor uploadLine() {
        return uploadLine;
    }

    /**
     * Opens an upload into the workspace: create-only, parents created, at most the workspace's
     * free room. The transfer counts as activity until the upload is closed. Callers run it on
     * {@link #uploadLine()}.
     */
    public Workspace.Upload openUpload(WorkspacePath path, long contentLength) throws IOException {
        return openUpload(path, contentLength, false);
    }

    /** An upload; with replace, it takes the place of a file of that name at commit (E2B's write). */
    public Workspace.Upload openUpload(WorkspacePath path, long contentLength, boolean replace) throws IOException {
        beginTransfer();
        // The transfer ends once: when the upload closes, or here when it never opened (an upload
        // that fails while opening closes itself, and must not end it a second time).
        AtomicBoolean ended = new AtomicBoolean();
        Workspace.Upload[] handle = new Workspace.Upload[1];
        LongConsumer closed = written -> {
            if (ended.compareAndSet(false, true)) {
                synchronized (this) {
                    uploads.remove(handle[0]);
                }
                context.metrics().uploaded(written);
                endTransfer();
            }
        };
        boolean opened = false;
        try {
            workspace.create();
            long limit = spec().limits().workspaceBytes();
            long room = uploadRoom.measure(limit, workspace::usage);
            if (contentLength > room) {
                throw SandboxException.tooLarge("the file does not fit in the workspace: "
                        + Sizes.human(Math.max(0, room)) + " free of " + Sizes.human(limit));
            }
            UploadRoom.Quota quota = uploadRoom.quota(limit);
            Workspace.Upload upload =
                    replace ? workspace.openReplace(path, quota, closed) : workspace.openUpload(path, quota, closed);
            opened = true;
            handle[0] = upload;
            quota.file(upload.fileKey());
            boolean live;
            synchronized (this) {
                live = state != SandboxState.DELETED;
                if (live) {
                    uploads.add(upload);
                }
            }
            if (!live) {
                upload.close(); // deleted while it opened
                throw SandboxException.notFound("no sandbox " + id + " (it was deleted)");
            }
            return upload;
        } finally {
            if (!opened && ended.compareAndSet(false, true)) {
                endTransfer();
            }
        }
    }

    /** Something done to the workspace from the host: listing, stat, mkdir, remove, move. */
    public interface WorkspaceTask<T> {
        T run(Workspace workspace) throws IOException;
    }

    /** Runs a short workspace task as a transfer: the reaper does not pause or stop the sandbox meanwhile. */
    public <T> T withWorkspace(WorkspaceTask<T> task) throws IOException {
        beginTransfer();
        try {
            workspace.create();
            return task.run(workspace);
        } finally {
            endTransfer();
        }
    }

    /** Opens a download; the transfer counts as activity until it is closed. */
    public Workspace.Download openDownload(WorkspacePath path) throws IOException {
        beginTransfer();
        boolean opened = false;
        try {
            Workspace.Download download = workspace.openDownload(path, sent -> {
                context.metrics().downloaded(sent);
                endTransfer();
            });
            opened = true;
            return download;
        } finally {
            if (!opened) {
                endTransfer();
            }
        }
    }

    private synchronized void beginTransfer() {
        requireLive();
        transfers++;
        touch();
    }

    private synchronized void endTransfer() {
        transfers--;
        touch();
        checkQuiescent();
    }
}
