package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.isolation.Identity;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.metrics.SandboxMetrics;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * two requests cannot both take the last slot.
 */
@ApplicationScoped
public class SandboxService {

    public static final String DEFAULT = StateLayout.DEFAULT_SANDBOX;
    private static final Logger LOG = Logger.getLogger(SandboxService.class);
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final int REMEMBERED_GONE = 10_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Why and when the reaper removed a sandbox. */
    public record Gone(String reason, Instant at) {}

    /** 410 for an ID the reaper removed. */
    public static final class GoneException extends ServiceException {
        private final Gone gone;

        GoneException(String id, Gone gone) {
            super(410, "sandbox " + id + " was removed at " + gone.at() + ": " + gone.reason());
            this.gone = gone;
        }

        @Override
        public Map<String, Object> details() {
            return Map.of("reason", gone.reason(), "removed_at", gone.at().toString());
        }
    }

    /** 503 at capacity, with a Retry-After. */
    static final class CapacityException extends ServiceException {
        CapacityException(String message) {
            super(503, message);
        }

        @Override
        public long retryAfterSeconds() {
            return 30;
        }
    }

    private final SandboxConfig config;
    private final KernelLauncher launcher;
    private final StateLayout layout;
    private final SandboxMetrics metrics;
    private final long memoryBudget;
    private final ConcurrentMap<String, Sandbox> sandboxes = new ConcurrentHashMap<>();
    private final Map<String, Gone> gone = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Gone> eldest) {
            return size() > REMEMBERED_GONE;
        }
    };
    private final WarmPool pool;

    public SandboxService(SandboxConfig config, KernelLauncher launcher, SandboxMetrics metrics) {
        this.config = config;
        this.launcher = launcher;
        this.metrics = metrics;
        this.layout = StateLayout.of(config);
        this.memoryBudget = config.sandboxes()
                .memoryBudget()
                .map(size -> size.asLongValue())
                .orElseGet(() -> hostMemory() / 100 * 80);
        this.pool = new WarmPool(
                config.sandboxes().pool().size(),
                config.sandboxes().pool().preload(),
                () -> newSandbox(newId(), SandboxSpec.defaults(config)),
                () -> room(SandboxSpec.defaults(config)) == null,
                this,
                () -> launcher.templateKey()
                        .map(key -> layout.runtime()
                                .resolve("templates")
                                .resolve(fingerprint(
                                        key, config.sandboxes().pool().preload(), SandboxSpec.defaults(config))))
                        .orElse(null));
        metrics.liveSandboxes(() ->
                sandboxes.values().stream().filter(s -> s.kernelName() != null).count());
    }

    /** The sandbox of the unprefixed API; created (not started) on first use. */
    public Sandbox defaultSandbox() {
        return sandboxes.computeIfAbsent(DEFAULT, id -> newSandbox(id, SandboxSpec.defaults(config)));
    }

    /** A sandbox by ID: 400 for a malformed ID, 410 for one the reaper removed, 404 for unknown. */
    public Sandbox get(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new ServiceException(400, "invalid sandbox id: lower-case letters, digits and '-', at most 63");
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
            throw new GoneException(id, removed);
        }
        throw new ServiceException(404, "no sandbox " + id);
    }

    /** POST /sandboxes: a warm-pool member when the spec allows, else a new one (started on first use). */
    public synchronized Sandbox create(SandboxSpec spec) {
        boolean poolable = spec.limits().equals(SandboxSpec.defaults(config).limits());
        Sandbox sandbox = poolable ? pool.take() : null;
        if (sandbox != null) {
            sandbox.assigned(spec);
        } else {
            String full = room(spec);
            if (full != null) {
                throw new CapacityException(full);
            }
            sandbox = newSandbox(newId(), spec);
        }
        sandbox.pausable(config.sandboxes().pause().enabled() && config.isolation() == SandboxConfig.Isolation.RUNSC);
        sandboxes.put(sandbox.id(), sandbox);
        return sandbox;
    }

    /** Why one more sandbox with spec does not fit, or null when it does. */
    private String room(SandboxSpec spec) {
        int count = sandboxes.size() + pool.size();
        if (count + 1 > config.sandboxes().maxCount()) {
            return "the service is at its maximum of " + config.sandboxes().maxCount() + " sandboxes; retry later";
        }
        long reserved = pool.size() * SandboxSpec.defaults(config).limits().memoryBytes();
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

    /** DELETE /sandboxes/{id}: tears it down and forgets it (a second DELETE is a 404). */
    public void delete(String id) {
        Sandbox sandbox = get(id);
        if (!id.equals(DEFAULT) && sandboxes.remove(id) == null) {
            throw new ServiceException(404, "no sandbox " + id);
        }
        sandbox.stop();
        deleteSandboxDirectory(id);
    }

    private Sandbox newSandbox(String id, SandboxSpec spec) {
        Workspace workspace = new Workspace(layout.workspace(id), layout.staging(), Identity.kernelUid(config));
        return new Sandbox(id, spec, config, launcher, workspace, metrics);
    }

    private static String newId() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return "sb-" + HexFormat.of().formatHex(bytes);
    }

    /**
     * Tears down every sandbox that expired (idle, paused too long, too old, out of busy time) and
     * is not in a call; created ones are forgotten and answer 410 afterwards. Created sandboxes in
     * runsc mode are paused at their idle timeout instead (sandbox.sandboxes.pause). Returns how
     * many were removed.
     */
    public int reapExpired(Instant now) {
        int reaped = 0;
        for (Sandbox sandbox : sandboxes.values()) {
            Sandbox.Reaping reaping = sandbox.reapIfExpired(now, sandbox.pausable());
            if (reaping == null) {
                continue;
            }
            String reason = reaping.reason();
            if (reaping.paused()) {
                LOG.infof("paused sandbox %s to disk: %s", sandbox.id(), reason);
                continue;
            }
            reaped++;
            LOG.infof("reaped sandbox %s: %s", sandbox.id(), reason);
            if (!sandbox.id().equals(DEFAULT)) {
                sandboxes.remove(sandbox.id(), sandbox);
                synchronized (gone) {
                    gone.put(sandbox.id(), new Gone(reason, now));
                }
                deleteSandboxDirectory(sandbox.id());
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
            if (sandbox.reapDeadKernel()) {
                dead++;
            }
        }
        pool.checkKernels();
        return dead;
    }

    private void deleteSandboxDirectory(String id) {
        Path dir = layout.sandbox(id);
        if (Files.isDirectory(dir)) {
            dev.interpretersandbox.files.Trees.delete(dir);
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
            var digest = java.security.MessageDigest.getInstance("SHA-256");
            digest.update((runtime + "\n" + preload + "\n" + spec.limits())
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest.digest()).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
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
            LOG.warnf("cannot read the host's memory size: %s", e.getMessage());
        }
        return 16L << 30;
    }
}
