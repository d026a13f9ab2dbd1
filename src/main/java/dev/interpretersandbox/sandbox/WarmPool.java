package dev.interpretersandbox.sandbox;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingDeque;
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

    private final int size;
    private final String preload;
    private final Supplier<Sandbox> factory;
    private final Supplier<Boolean> hasRoom;
    private final Object capacityLock;
    private final LinkedBlockingDeque<Sandbox> ready = new LinkedBlockingDeque<>();
    private final AtomicInteger starting = new AtomicInteger();
    private final ExecutorService refiller = Executors.newSingleThreadExecutor(r -> {
        Thread thread = new Thread(r, "warm-pool");
        thread.setDaemon(true);
        return thread;
    });
    private volatile int failures;
    private volatile String lastFailure;
    private volatile boolean closed;

    /**
     * @param hasRoom whether one more default sandbox fits; asked holding capacityLock, which
     *     sandbox creation holds too, so a member's slot is taken before anyone else can count it
     */
    WarmPool(int size, String preload, Supplier<Sandbox> factory, Supplier<Boolean> hasRoom, Object capacityLock) {
        this.size = size;
        this.capacityLock = capacityLock;
        this.preload = preload;
        this.factory = factory;
        this.hasRoom = hasRoom;
    }

    /** Starts refilling in the background (no-op when full or turned off). */
    void refill() {
        if (size > 0 && !closed) {
            refiller.execute(this::fill);
        }
    }

    private void fill() {
        while (!closed && reserve()) {
            Sandbox member = factory.get();
            try {
                member.warm(preload, Duration.ofSeconds(120));
                ready.add(member);
                failures = 0;
            } catch (RuntimeException e) {
                failures++;
                lastFailure = e.getMessage();
                LOG.warnf("warm-pool sandbox %s could not start: %s", member.id(), e.getMessage());
                member.stop();
                if (failures >= FAILURES_BEFORE_UNHEALTHY) {
                    return; // the next reaper run tries again
                }
            } finally {
                starting.decrementAndGet();
            }
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

    List<Sandbox> members() {
        return new ArrayList<>(ready);
    }

    /** Drops members whose kernel died while waiting. */
    void checkKernels() {
        for (Sandbox member : ready) {
            if (member.reapDeadKernel() && ready.remove(member)) {
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
        refiller.shutdownNow();
        Sandbox member;
        while ((member = ready.poll()) != null) {
            member.shutdown();
        }
    }
}
