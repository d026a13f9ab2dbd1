package dev.interpretersandbox.sandbox;

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
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The registry of sandboxes. The seed API's unprefixed paths address the sandbox {@value #DEFAULT};
 * POST /sandboxes creates more, from the warm pool when it can. Capacity (count and the sum of
 * memory limits, pool members included) is checked before a sandbox exists. Sandboxes the reaper
 * removed are remembered for a while, so their ID answers 410 with the reason instead of 404.
 *
 * <p>Thread-safety: all public methods may be called from any thread; creation is serialised so
 * two requests cannot both take the last slot, and nothing slow happens while it is.
 */
@ApplicationScoped
public class SandboxService {

    public static final String DEFAULT = StateLayout.DEFAULT_SANDBOX;
    private static final Logger LOG = Logger.getLogger(SandboxService.class);
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
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

    @Inject
    public SandboxService(
            SandboxConfig config, IsolationBackend backend, SandboxMetrics metrics, Workers workers, Clock clock) {
        this(config, backend, backend.kernelUid(), metrics, workers, clock);
    }

    /** With any launcher (tests use a scripted one); kernelUid owns workspace files. */
    public SandboxService(
            SandboxConfig config,
            KernelLauncher launcher,
            int kernelUid,
            SandboxMetrics metrics,
            Workers workers,
            Clock clock) {
        this.config = config;
        this.metrics = metrics;
        this.layout = StateLayout.of(config);
        this.defaults = SandboxSpec.defaults(config);
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
                kernelUid);
        this.memoryBudget = config.sandboxes()
                .memoryBudget()
                .map(size -> size.asLongValue())
                .orElseGet(() -> hostMemory() / 100 * 80);
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
    }

    /** The sandbox of the unprefixed API; created (not started) on first use. */
    public Sandbox defaultSandbox() {
        return sandboxes.computeIfAbsent(DEFAULT, id -> newSandbox(id, defaults));
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
            sandboxes.put(sandbox.id(), sandbox);
        }
        if (!warm) {
            return CompletableFuture.completedFuture(sandbox);
        }
        Sandbox member = sandbox;
        return member.assigned(spec).thenApply(ignored -> member);
    }

    /** Why one more sandbox with spec does not fit, or null when it does. */
    private String room(SandboxSpec spec) {
        int count = sandboxes.size() + pool.size();
        if (count + 1 > config.sandboxes().maxCount()) {
            return "the service is at its maximum of " + config.sandboxes().maxCount() + " sandboxes; retry later";
        }
        long reserved = pool.size() * defaults.limits().memoryBytes();
        for (Sandbox sandbox : sandboxes.values()) {
            reserved += sandbox.spec().limits().memoryBytes();
        }
        if (reserved + spec.limits().memoryBytes() > memoryBudget) {
            return "the sandboxes' memory budget of " + Sizes.human(memoryBudget) + " is taken ("
                    + Sizes.human(reserved) + " reserved); retry later";
        }
        return null;
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
        return sandbox.delete().thenRun(() -> deleteSandboxDirectory(id));
    }

    private Sandbox newSandbox(String id, SandboxSpec spec) {
        Workspace workspace = new Workspace(layout.workspace(id), layout.staging(), context.kernelUid());
        return new Sandbox(id, spec, context, workspace);
    }

    private static String newId() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return "sb-" + HexFormat.of().formatHex(bytes);
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
                synchronized (gone) {
                    gone.put(sandbox.id(), new Gone(reason, now));
                }
                sandbox.delete().thenRun(() -> deleteSandboxDirectory(sandbox.id()));
            }
        }
        metrics.reaped(reaped);
        pool.refill();
        return reaped;
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

    public void shutdown() {
        pool.shutdown();
        sandboxes.values().forEach(Sandbox::shutdown);
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
