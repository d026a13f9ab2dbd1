package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.cluster.Fleet;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.error.SandboxException.Kind;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.isolation.IsolationBackend;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.OutputBudget;
import dev.interpretersandbox.log.LogSafe;
import dev.interpretersandbox.metrics.SandboxMetrics;
import dev.interpretersandbox.registry.RecordStore;
import dev.interpretersandbox.registry.SandboxRecord;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The registry of sandboxes. The seed API's unprefixed paths address the sandbox {@value #DEFAULT};
 * POST /sandboxes creates more, from the warm pool when it can. Capacity (count and the sum of
 * memory limits, pool members included) is checked before a sandbox exists. Sandboxes the reaper
 * removed are remembered (across restarts too), so their ID answers 410 with the reason instead
 * of 404.
 *
 * <p>Sandboxes are durable: each has a record under the state directory ({@link RecordStore}).
 * At startup {@link #adopt} brings every recorded sandbox back (paused when its kernel was saved,
 * stopped otherwise); at shutdown {@link #shutdown} lets running executions finish within a grace
 * and saves every kernel to disk.
 *
 * <p>Thread-safety: all public methods may be called from any thread; creation is serialised so
 * two requests cannot both take the last slot, and nothing slow happens while it is.
 */
@ApplicationScoped
public class SandboxService {

    public static final String DEFAULT = StateLayout.DEFAULT_SANDBOX;
    private static final Logger LOG = Logger.getLogger(SandboxService.class);
    /** Ids: a name, and in fleet mode ".<instance>" (a DNS label) naming the owner. */
    private static final Pattern ID =
            Pattern.compile("[a-z0-9][a-z0-9-]{0,62}(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)?");

    private static final int REMEMBERED_GONE = 10_000;
    private static final SecureRandom RANDOM = new SecureRandom();
    /** What a client at capacity is told to wait before trying again. */
    private static final Duration CAPACITY_RETRY = Duration.ofSeconds(30);

    /** Why and when the reaper removed a sandbox. */
    public record Gone(String reason, Instant at) {}

    private final SandboxConfig config;
    private final SandboxContext context;
    private final StateLayout layout;
    private final SandboxMetrics metrics;
    private final long memoryBudget;
    private final SandboxSpec defaults;
    private final ConcurrentMap<String, Sandbox> sandboxes = new ConcurrentHashMap<>();
    private final Map<String, Gone> gone = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Gone> eldest) {
            return size() > REMEMBERED_GONE;
        }
    };
    private final WarmPool pool;
    private final RecordStore records;
    private final String idSuffix; // fleet mode: ".<instance>", the owner of every id made here
    private final Draining draining = new Draining();
    /** Sandboxes whose record could not be read at startup: their ids answer 410 with why. */
    private final Map<String, String> damaged = new ConcurrentHashMap<>();

    @Inject
    public SandboxService(
            SandboxConfig config,
            IsolationBackend backend,
            SandboxMetrics metrics,
            Workers workers,
            Clock clock,
            Fleet fleet) {
        this(config, backend, backend.kernelUid(), metrics, workers, clock, backend.memoryLimit(), fleet.idSuffix());
    }

    /** With any launcher (tests use a scripted one); kernelUid owns workspace files. */
    public SandboxService(
            SandboxConfig config,
            KernelLauncher launcher,
            int kernelUid,
            SandboxMetrics metrics,
            Workers workers,
            Clock clock) {
        this(config, launcher, kernelUid, metrics, workers, clock, Optional.empty(), "");
    }

    private SandboxService(
            SandboxConfig config,
            KernelLauncher launcher,
            int kernelUid,
            SandboxMetrics metrics,
            Workers workers,
            Clock clock,
            Optional<Long> memoryLimit,
            String idSuffix) {
        this.config = config;
        this.idSuffix = idSuffix;
        this.metrics = metrics;
        this.layout = StateLayout.of(config);
        this.defaults = SandboxSpec.defaults(config);
        this.records = new RecordStore(layout.sandboxes(), layout.removed());
        this.context = new SandboxContext(
                config,
                launcher,
                metrics,
                workers,
                new Deadlines(workers.timers()),
                clock,
                new Admission(config.execute().maxWaiting()),
                layout,
                OutputBudget.of(config.output()),
                ExpiryPolicy.of(config),
                kernelUid,
                records,
                draining);
        this.memoryBudget = config.sandboxes()
                .memoryBudget()
                .map(size -> size.asLongValue())
                .orElseGet(() -> Math.min(hostMemory(), memoryLimit.orElse(Long.MAX_VALUE)) / 100 * 80);
        this.pool = new WarmPool(
                config.sandboxes().pool().size(),
                config.sandboxes().pool().preload(),
                () -> newSandbox(newId(), defaults),
                () -> room(defaults) == null,
                this,
                () -> launcher.templateKey()
                        .map(key -> layout.templates()
                                .resolve(fingerprint(
                                        key, config.sandboxes().pool().preload(), defaults)))
                        .orElse(null));
        metrics.liveSandboxes(() ->
                sandboxes.values().stream().filter(s -> s.kernelName() != null).count());
        metrics.capacity(
                () -> sandboxes.size() + pool.size(),
                () -> Math.max(0, config.sandboxes().maxCount() - sandboxes.size() - pool.size()),
                memoryBudget,
                () -> Math.max(0, memoryBudget - reservedMemory()));
    }

    /** The sandbox of the unprefixed API; created (not started) on first use. */
    public Sandbox defaultSandbox() {
        return sandboxes.computeIfAbsent(DEFAULT, id -> {
            Sandbox sandbox = newSandbox(id, defaults);
            sandbox.register(); // written by the next flush, or when its kernel starts
            return sandbox;
        });
    }

    /** A sandbox by ID: INVALID for a malformed ID, GONE for one the reaper removed, else NOT_FOUND. */
    public Sandbox get(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw SandboxException.invalid("invalid sandbox id: lower-case letters, digits and '-', at most 63");
        }
        if (id.equals(DEFAULT)) {
            return defaultSandbox();
        }
        Sandbox sandbox = sandboxes.get(id);
        if (sandbox != null) {
            return sandbox;
        }
        String damage = damaged.get(id);
        if (damage != null) {
            throw new SandboxException(
                    Kind.GONE,
                    "sandbox " + id + " could not be brought back after the service restarted: " + damage
                            + "; its files are kept on the server for an operator",
                    Map.of("reason", "damaged: " + damage),
                    null,
                    null);
        }
        Gone removed;
        synchronized (gone) {
            removed = gone.get(id);
        }
        if (removed != null) {
            throw new SandboxException(
                    Kind.GONE,
                    "sandbox " + id + " was removed at " + removed.at() + ": " + removed.reason(),
                    Map.of(
                            "reason",
                            removed.reason(),
                            "removed_at",
                            removed.at().toString()),
                    null,
                    null);
        }
        throw SandboxException.notFound("no sandbox " + id);
    }

    /**
     * POST /sandboxes: a warm-pool member when the spec allows (its environment is applied after
     * the service lock is released), else a new one, started on first use.
     */
    public CompletionStage<Sandbox> create(SandboxSpec spec) {
        draining.refuseNewWork();
        Sandbox sandbox;
        boolean warm;
        synchronized (this) {
            boolean poolable = spec.limits().equals(defaults.limits());
            sandbox = poolable ? pool.take() : null;
            warm = sandbox != null;
            if (!warm) {
                String full = room(spec);
                if (full != null) {
                    throw SandboxException.unavailable(full, CAPACITY_RETRY);
                }
                sandbox = newSandbox(newId(), spec);
            }
            sandbox.pausable(
                    config.sandboxes().pause().enabled() && context.launcher().canCheckpoint());
            if (warm) {
                // Its lifetime starts before the reaper can see it, still being handed out (in use):
                // a member older than the maximum lifetime would be removed at once.
                sandbox.startClocks();
            }
            sandboxes.put(sandbox.id(), sandbox);
        }
        sandbox.register();
        if (!warm) {
            sandbox.persist(); // durable before its id is handed out
            return CompletableFuture.completedFuture(sandbox);
        }
        Sandbox member = sandbox;
        return member.assigned(spec).thenApply(ignored -> {
            member.persist();
            return member;
        });
    }

    /** Why one more sandbox with spec does not fit, or null when it does. */
    private String room(SandboxSpec spec) {
        int count = sandboxes.size() + pool.size();
        if (count + 1 > config.sandboxes().maxCount()) {
            return "the service is at its maximum of " + config.sandboxes().maxCount() + " sandboxes; retry later";
        }
        long reserved = reservedMemory();
        if (reserved + spec.limits().memoryBytes() > memoryBudget) {
            return "the sandboxes' memory budget of " + Sizes.human(memoryBudget) + " is taken ("
                    + Sizes.human(reserved) + " reserved); retry later";
        }
        return null;
    }

    /** The memory limits of every sandbox together, warm-pool members included. */
    private long reservedMemory() {
        long reserved = pool.size() * defaults.limits().memoryBytes();
        for (Sandbox sandbox : sandboxes.values()) {
            reserved += sandbox.spec().limits().memoryBytes();
        }
        return reserved;
    }

    /** A sandbox that exists here by id, without creating the default one. */
    public Optional<Sandbox> find(String id) {
        return Optional.ofNullable(sandboxes.get(id));
    }

    /** Sandboxes a client can address, oldest first. */
    public List<Sandbox> list() {
        List<Sandbox> all = new ArrayList<>(sandboxes.values());
        all.sort(Comparator.comparing(Sandbox::createdAt));
        return all;
    }

    /**
     * DELETE /sandboxes/{id}: it takes nothing from now on and is forgotten (a second DELETE is a
     * 404); the stage completes once its kernel and workspace are gone. The default sandbox is
     * reset instead: the unprefixed API always has one.
     */
    public CompletionStage<Void> delete(String id) {
        Sandbox sandbox = get(id);
        if (id.equals(DEFAULT)) {
            return sandbox.wipe();
        }
        if (!sandboxes.remove(id, sandbox)) {
            throw SandboxException.notFound("no sandbox " + id);
        }
        CompletionStage<Void> deleted = sandbox.delete();
        forget(sandbox);
        return deleted.thenRun(() -> deleteSandboxDirectory(id));
    }

    /** A deleted sandbox's record goes at once, so a crash from now on does not bring it back. */
    private void forget(Sandbox sandbox) {
        try {
            sandbox.forget();
        } catch (RuntimeException e) {
            LOG.warnf("cannot delete the record of sandbox %s: %s", sandbox.id(), LogSafe.quote(e.getMessage()));
        }
    }

    private Sandbox newSandbox(String id, SandboxSpec spec) {
        Workspace workspace = new Workspace(layout.workspace(id), layout.staging(), context.kernelUid());
        return new Sandbox(id, spec, context, workspace);
    }

    private String newId() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return "sb-" + HexFormat.of().formatHex(bytes) + idSuffix;
    }

    /**
     * Pauses or removes every sandbox that expired (idle, paused too long, too old, out of busy
     * time) and is not in a call; removed ones answer 410 afterwards. Created sandboxes are paused
     * at their idle timeout instead, when the backend can checkpoint (sandbox.sandboxes.pause).
     * The sandboxes are handled in parallel on the lifecycle threads; returns how many were
     * removed, once all are done.
     */
    public int reapExpired(Instant now) {
        Map<Sandbox, CompletionStage<Optional<Sandbox.Reaping>>> passes = new LinkedHashMap<>();
        for (Sandbox sandbox : sandboxes.values()) {
            passes.put(sandbox, sandbox.reapIfExpired(now, sandbox.pausable()));
        }
        int reaped = 0;
        for (var pass : passes.entrySet()) {
            Sandbox sandbox = pass.getKey();
            Optional<Sandbox.Reaping> reaping;
            try {
                reaping = pass.getValue().toCompletableFuture().join();
            } catch (RuntimeException e) {
                LOG.warnf("the reaper could not handle sandbox %s: %s", sandbox.id(), e.getMessage());
                continue;
            }
            if (reaping.isEmpty()) {
                continue;
            }
            String reason = reaping.get().why().message();
            if (reaping.get().paused()) {
                LOG.infof("paused sandbox %s to disk: %s", sandbox.id(), reason);
                continue;
            }
            reaped++;
            LOG.infof("reaped sandbox %s: %s", sandbox.id(), reason);
            if (!sandbox.id().equals(DEFAULT) && sandboxes.remove(sandbox.id(), sandbox)) {
                remember(sandbox.id(), reason, now);
                CompletionStage<Void> deleted = sandbox.delete();
                forget(sandbox);
                deleted.thenRun(() -> deleteSandboxDirectory(sandbox.id()));
            }
        }
        metrics.reaped(reaped);
        pool.refill();
        return reaped;
    }

    /** A removed sandbox's id answers 410 with the reason, after a restart too. */
    private void remember(String id, String reason, Instant at) {
        synchronized (gone) {
            gone.put(id, new Gone(reason, at));
        }
        try {
            records.remember(new RecordStore.Removed(id, reason, at));
        } catch (RuntimeException e) {
            LOG.warnf("cannot remember removed sandbox %s: %s", id, LogSafe.quote(e.getMessage()));
        }
    }

    /** The periodic flush: records whose clocks changed are written. */
    public void flushRecords() {
        for (Sandbox sandbox : sandboxes.values()) {
            sandbox.flush();
        }
    }

    /** The crash watcher: kernels that died while idle are torn down now. Returns how many. */
    public int checkKernels() {
        int dead = 0;
        for (Sandbox sandbox : sandboxes.values()) {
            if (sandbox.checkKernel()) {
                dead++;
            }
        }
        pool.checkKernels();
        return dead;
    }

    /**
     * Names of every kernel a sandbox of this service holds, pool members and a template being
     * built included: the orphan sweep removes containers not among them.
     */
    public Set<String> knownKernels() {
        Set<String> names = new HashSet<>();
        for (Sandbox sandbox : sandboxes.values()) {
            Optional.ofNullable(sandbox.kernelName()).ifPresent(names::add);
        }
        for (Sandbox member : pool.all()) {
            Optional.ofNullable(member.kernelName()).ifPresent(names::add);
        }
        return names;
    }

    private void deleteSandboxDirectory(String id) {
        Path dir = layout.sandbox(id);
        if (Files.isDirectory(dir)) {
            Trees.delete(dir);
        }
    }

    /** Starts filling the warm pool (after the startup checks passed). */
    public void startPool() {
        pool.start();
    }

    /** Null while the warm pool is healthy, else why not. */
    public String poolProblem() {
        return pool.problem();
    }

    public int poolReady() {
        return pool.ready();
    }

    public long memoryBudget() {
        return memoryBudget;
    }

    // ---- restarts -----------------------------------------------------------------------------

    /** What startup found in the registry. */
    public record Adoption(int paused, int stopped, int recovered, int damaged, int removedRemembered) {}

    /**
     * Startup: every sandbox in the registry comes back with its id, spec, clocks and files:
     * paused when its kernel was saved, else stopped. One whose kernel ran when the service went
     * away (it did not stop cleanly) or whose image or workspace is missing comes back stopped,
     * and its next execution is told what was lost. An unreadable record affects only its own
     * sandbox, whose id then answers 410 saying why (the default sandbox comes back fresh
     * instead). Kernels are not started here: each comes back on its first call. Sandboxes whose
     * time ran out while the service was down are removed by {@link #reapExpired} right after.
     */
    public Adoption adopt() {
        for (RecordStore.Removed removed : records.removed()) {
            synchronized (gone) {
                gone.put(removed.id(), new Gone(removed.reason(), removed.at()));
            }
        }
        int paused = 0;
        int stopped = 0;
        int recovered = 0;
        int broken = 0;
        for (RecordStore.Loaded loaded : records.load()) {
            if (loaded instanceof RecordStore.Damaged damage) {
                broken++;
                LOG.errorf(
                        "sandbox %s cannot be brought back: %s (its directory %s is left as it is)",
                        damage.id(), LogSafe.quote(damage.reason()), layout.sandbox(damage.id()));
                if (damage.id().equals(DEFAULT)) {
                    Sandbox fresh = newSandbox(DEFAULT, defaults);
                    fresh.register();
                    fresh.tellAfterRestart("the default sandbox's record could not be read when the service restarted ("
                            + damage.reason() + "); this execution runs in a fresh kernel with the default limits:"
                            + " variables and imports were lost, files in /mnt/data are kept");
                    sandboxes.put(DEFAULT, fresh);
                    fresh.persist();
                } else {
                    damaged.put(damage.id(), damage.reason());
                }
                continue;
            }
            SandboxRecord record = ((RecordStore.Found) loaded).record();
            Sandbox sandbox = adopt(record);
            sandboxes.put(sandbox.id(), sandbox);
            switch (sandbox.state()) {
                case PAUSED -> paused++;
                default -> {
                    if (record.kernel() == SandboxRecord.KernelState.NONE) {
                        stopped++;
                    } else {
                        recovered++;
                    }
                }
            }
        }
        metrics.adopted("paused", paused);
        metrics.adopted("stopped", stopped);
        metrics.adopted("recovered", recovered);
        metrics.adopted("damaged", broken);
        return new Adoption(paused, stopped, recovered, broken, gone.size());
    }

    private Sandbox adopt(SandboxRecord record) {
        String id = record.id();
        Workspace workspace = new Workspace(layout.workspace(id), layout.staging(), context.kernelUid());
        boolean hadFiles = record.kernel() != SandboxRecord.KernelState.NONE;
        boolean workspaceMissing = hadFiles && !Files.isDirectory(layout.workspace(id));
        String notice = record.notice();
        SandboxRecord adopted = record;
        if (record.kernel() == SandboxRecord.KernelState.SAVED && !Files.isDirectory(layout.checkpoint(id))) {
            LOG.warnf("sandbox %s: its saved image is missing; it comes back without its variables", id);
            notice = "the sandbox's saved image was missing when the service restarted; this execution runs in a"
                    + " fresh kernel: variables and imports were lost"
                    + (workspaceMissing ? "" : ", files in /mnt/data are kept");
            adopted = withKernel(record, SandboxRecord.KernelState.NONE);
        } else if (record.kernel() == SandboxRecord.KernelState.RUNNING) {
            LOG.warnf("sandbox %s: its kernel was running when the service went away; its variables are lost", id);
            notice = "the service restarted unexpectedly (it was killed or crashed) while this sandbox's kernel ran;"
                    + " this execution runs in a fresh kernel: variables and imports were lost"
                    + (workspaceMissing ? "" : ", files in /mnt/data are kept");
            adopted = withKernel(record, SandboxRecord.KernelState.NONE);
        }
        if (workspaceMissing) {
            LOG.warnf("sandbox %s: its workspace %s is missing; /mnt/data starts empty", id, layout.workspace(id));
            notice = (notice == null ? "" : notice + ". ")
                    + "the sandbox's workspace was missing when the service restarted: /mnt/data starts empty";
        }
        Sandbox sandbox = Sandbox.adopted(adopted, context, workspace, notice);
        if (adopted != record || notice != null && !notice.equals(record.notice())) {
            sandbox.persist(); // a second restart must not tell the same story differently
        }
        return sandbox;
    }

    private static SandboxRecord withKernel(SandboxRecord record, SandboxRecord.KernelState kernel) {
        return new SandboxRecord(
                record.version(),
                record.id(),
                record.limits(),
                record.env(),
                record.idleTimeoutMillis(),
                record.createdAt(),
                record.lastActivity(),
                record.busyMillis(),
                kernel,
                null,
                record.pausable(),
                record.notice(),
                record.metadata(),
                record.accessTokenHashes());
    }

    /** What a shutdown did: sandboxes saved, with nothing to save, lost, and left unsaved at the deadline. */
    public record ShutdownReport(int saved, int idle, int lost, int unsaved, Duration took) {}

    /**
     * Graceful shutdown. New executions and sandboxes are refused from now on (503 with
     * Retry-After); executions already running or queued get grace to finish; then those still
     * running are interrupted (an error event says why) and the queued ones refused; then every
     * sandbox's kernel is checkpointed to disk, saveThreads at a time, within saveTimeout. Kernels
     * not saved by then are torn down by {@link #destroyAll}; their sandboxes come back with their
     * files after the restart. A saveTimeout of zero saves nothing (sandboxes are not durable).
     */
    public ShutdownReport shutdown(Duration grace, Duration saveTimeout, int saveThreads) {
        long start = System.nanoTime();
        draining.begin();
        pool.shutdown();
        List<Sandbox> all = new ArrayList<>(sandboxes.values());
        long graceEnd = start + grace.toNanos();
        for (Sandbox sandbox : all) {
            if (!sandbox.awaitSettled(graceEnd)) {
                break;
            }
        }
        for (Sandbox sandbox : all) {
            if (!sandbox.settled()) {
                sandbox.interruptForShutdown();
            }
        }
        ExecutorService savers = Executors.newFixedThreadPool(Math.max(1, saveThreads), runnable -> {
            Thread thread = new Thread(runnable, "sandbox-save");
            thread.setDaemon(true);
            return thread;
        });
        Map<Sandbox.Saved, Integer> counts = new EnumMap<>(Sandbox.Saved.class);
        int unsaved = 0;
        if (saveTimeout.isZero()) {
            all.clear(); // not durable: nothing is saved, destroyAll tears every kernel down
        }
        try {
            List<CompletableFuture<Sandbox.Saved>> saves = new ArrayList<>();
            for (Sandbox sandbox : all) {
                // the save waits for the job ahead of it (an interrupted execution), then checkpoints
                saves.add(CompletableFuture.supplyAsync(() -> join(sandbox.saveForShutdown()), savers));
            }
            long saveEnd = System.nanoTime() + saveTimeout.toNanos();
            for (CompletableFuture<Sandbox.Saved> save : saves) {
                try {
                    Sandbox.Saved outcome = save.get(Math.max(0, saveEnd - System.nanoTime()), TimeUnit.NANOSECONDS);
                    counts.merge(outcome, 1, Integer::sum);
                } catch (TimeoutException e) {
                    unsaved++;
                } catch (ExecutionException e) {
                    LOG.warnf("a sandbox could not be saved: %s", LogSafe.quote(String.valueOf(e.getCause())));
                    counts.merge(Sandbox.Saved.LOST, 1, Integer::sum);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    unsaved++;
                }
            }
        } finally {
            savers.shutdownNow();
        }
        ShutdownReport report = new ShutdownReport(
                counts.getOrDefault(Sandbox.Saved.SAVED, 0),
                counts.getOrDefault(Sandbox.Saved.IDLE, 0),
                counts.getOrDefault(Sandbox.Saved.LOST, 0),
                unsaved,
                Duration.ofNanos(System.nanoTime() - start));
        metrics.shutdownSaved("saved", report.saved());
        metrics.shutdownSaved("idle", report.idle());
        metrics.shutdownSaved("lost", report.lost() + report.unsaved());
        return report;
    }

    /** Whether the service is shutting down (readiness is down). */
    public boolean draining() {
        return draining.active();
    }

    /** The end of a shutdown: every kernel still running goes now (a running execution ends). */
    public void destroyAll() {
        pool.shutdown();
        sandboxes.values().forEach(Sandbox::shutdown);
    }

    private static <T> T join(CompletionStage<T> stage) {
        try {
            return stage.toCompletableFuture().join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException runtime ? runtime : e;
        }
    }

    /** Names the template image after everything that shapes it. */
    private static String fingerprint(String runtime, String preload, SandboxSpec spec) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update((runtime + "\n" + preload + "\n" + spec.limits()).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long hostMemory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            LOG.warnf("cannot read the host's memory size: %s", LogSafe.quote(e.getMessage()));
        }
        return 16L << 30;
    }
}
