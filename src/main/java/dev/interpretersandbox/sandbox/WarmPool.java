package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.log.LogSafe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Pre-started sandboxes with the default limits and the common modules imported, so POST
 * /sandboxes hands one out in milliseconds. Refilled in the background by one thread, never past
 * the service's capacity (members count like any sandbox). Thread-safe.
 */
final class WarmPool {

    private static final Logger LOG = Logger.getLogger(WarmPool.class);
    private static final int FAILURES_BEFORE_UNHEALTHY = 3;
    /** How long the preload code may take in a cold member (imports of the data libraries). */
    private static final Duration PRELOAD_TIMEOUT = Duration.ofSeconds(120);
    /** How long reseeding a member restored from the template may take. */
    private static final Duration RESEED_TIMEOUT = Duration.ofSeconds(30);
    /** How long shutdown waits for a member that is starting. */
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(15);

    // Members restored from one image share its random state: give each its own.
    static final String RESEED = "def _reseed():\n"
            + "    import random, sys\n"
            + "    random.seed()\n"
            + "    if 'numpy' in sys.modules:\n"
            + "        sys.modules['numpy'].random.seed()\n"
            + "_reseed()\n"
            + "del _reseed\n";

    private final int size;
    private final String preload;
    private final Supplier<Sandbox> factory;
    private final Supplier<Boolean> hasRoom;
    private final Object capacityLock;
    private final Supplier<Path> templateLocation;
    private final LinkedBlockingDeque<Sandbox> ready = new LinkedBlockingDeque<>();
    private final AtomicInteger starting = new AtomicInteger();
    private final ExecutorService refiller = Executors.newSingleThreadExecutor(r -> {
        Thread thread = new Thread(r, "warm-pool");
        thread.setDaemon(true);
        return thread;
    });
    private Path templates; // pool thread only: asked for on the first fill, once the runtime is laid out
    private int templateFailures; // pool thread only
    private volatile boolean templateBroken;
    private volatile int failures;
    private volatile String lastFailure;
    private volatile boolean closed;
    private volatile boolean started;
    private final List<Sandbox> inProgress = new CopyOnWriteArrayList<>();

    /**
     * @param hasRoom whether one more default sandbox fits; asked holding capacityLock, which
     *     sandbox creation holds too, so a member's slot is taken before anyone else can count it
     * @param templates the template image's directory for this configuration, or null for none
     */
    WarmPool(
            int size,
            String preload,
            Supplier<Sandbox> factory,
            Supplier<Boolean> hasRoom,
            Object capacityLock,
            Supplier<Path> templates) {
        this.size = size;
        this.templateLocation = templates;
        this.capacityLock = capacityLock;
        this.preload = preload;
        this.factory = factory;
        this.hasRoom = hasRoom;
    }

    /** Allows refills from now on: the startup sweep is over (it would kill members it saw starting). */
    void start() {
        started = true;
        refill();
    }

    /** Starts refilling in the background (no-op when full, turned off, or not started yet). */
    void refill() {
        if (size > 0 && started && !closed) {
            refiller.execute(this::fill);
        }
    }

    private void fill() {
        while (!closed && reserve()) {
            Sandbox member = factory.get();
            inProgress.add(member);
            try {
                Path image = template();
                if (image == null || !member.startFrom(image, RESEED, RESEED_TIMEOUT)) {
                    if (image != null) {
                        templateBroken = true; // cold starts from now on; the next service start rebuilds it
                    }
                    member.warm(preload, PRELOAD_TIMEOUT);
                }
                ready.add(member);
                failures = 0;
            } catch (RuntimeException e) {
                failures++;
                lastFailure = e.getMessage();
                LOG.warnf("warm-pool sandbox %s could not start: %s", member.id(), LogSafe.quote(e.getMessage()));
                member.stop();
                if (failures >= FAILURES_BEFORE_UNHEALTHY) {
                    return; // the next reaper run tries again
                }
            } finally {
                inProgress.remove(member);
                starting.decrementAndGet();
            }
        }
    }

    /**
     * The template image: one kernel booted with the preload code run, checkpointed once, and
     * restored into every member's own container (much faster than a cold start plus the
     * imports). Kept under a directory named by a fingerprint of everything that shapes it, so a
     * change of runtime, driver, limits or preload builds a new one. Null when this isolation mode
     * cannot checkpoint or building failed.
     */
    private Path template() {
        if (templates == null && !templateBroken) {
            templates = templateLocation.get();
            templateBroken = templates == null;
        }
        if (templateBroken) {
            return null;
        }
        Path image = templates.resolve("image");
        if (Files.exists(templates.resolve("complete"))) {
            return image;
        }
        Sandbox builder = factory.get();
        inProgress.add(builder);
        long began = System.nanoTime();
        try {
            Path parent = templates.getParent();
            if (Files.isDirectory(parent)) {
                try (var old = Files.list(parent)) {
                    old.filter(dir -> !dir.equals(templates)).forEach(Trees::delete);
                }
            }
            Trees.delete(templates);
            Files.createDirectories(templates);
            builder.warm(preload, PRELOAD_TIMEOUT);
            if (!builder.checkpointTo(image)) {
                templateBroken = true; // this kernel cannot be checkpointed: cold starts
                return null;
            }
            Files.createFile(templates.resolve("complete"));
            LOG.infof("warm-pool template image built in %d ms", (System.nanoTime() - began) / 1_000_000);
            return image;
        } catch (IOException | RuntimeException e) {
            // Transient failures (a start racing the startup sweep) are retried on later fills.
            templateBroken = ++templateFailures >= FAILURES_BEFORE_UNHEALTHY;
            LOG.warnf(
                    "cannot build the warm-pool template image (attempt %d), this member starts cold: %s",
                    templateFailures, LogSafe.quote(e.getMessage()));
            Trees.delete(templates);
            return null;
        } finally {
            builder.stop();
            inProgress.remove(builder);
        }
    }

    /** Takes a slot for one more member when the pool is short and the service has room. */
    private boolean reserve() {
        synchronized (capacityLock) {
            if (ready.size() + starting.get() >= size || !hasRoom.get()) {
                return false;
            }
            starting.incrementAndGet();
            return true;
        }
    }

    /** A ready member, or null when none is; a refill starts either way. */
    Sandbox take() {
        Sandbox member = ready.poll();
        refill();
        return member;
    }

    /** Members ready or starting: they count against capacity. */
    int size() {
        return ready.size() + starting.get();
    }

    int ready() {
        return ready.size();
    }

    /** Every member, ready or starting, and a template builder: their kernels are the service's. */
    List<Sandbox> all() {
        List<Sandbox> all = new ArrayList<>(ready);
        all.addAll(inProgress);
        return all;
    }

    /** Drops members whose kernel died while waiting. */
    void checkKernels() {
        for (Sandbox member : ready) {
            if (member.checkKernel() && ready.remove(member)) {
                member.stop();
                refill();
            }
        }
    }

    /** Null while healthy; otherwise why the last starts failed (readiness reports it). */
    String problem() {
        return size > 0 && failures >= FAILURES_BEFORE_UNHEALTHY
                ? "the warm pool cannot start sandboxes: " + lastFailure
                : null;
    }

    void shutdown() {
        closed = true;
        refiller.shutdownNow(); // interrupts a start in progress, which then tears its kernel down
        try {
            refiller.awaitTermination(SHUTDOWN_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        inProgress.forEach(Sandbox::shutdown);
        Sandbox member;
        while ((member = ready.poll()) != null) {
            member.shutdown();
        }
    }
}
