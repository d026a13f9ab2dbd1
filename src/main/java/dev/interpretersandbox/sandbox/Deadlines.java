package dev.interpretersandbox.sandbox;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Timeouts and grace periods of running executions, checked by one periodic tick. A timer of
 * their own would cost every execution two wake-ups of the timer thread (schedule, cancel), which
 * shows in the latency of a trivial cell; a deadline here costs a set insertion, and fires at most
 * {@link #TICK_MILLIS} late. Thread-safe.
 */
final class Deadlines {

    static final long TICK_MILLIS = 20;

    /** A registered deadline; what {@link #cancel} takes. */
    static final class Deadline {
        private final long atNanos;
        private final Runnable action;

        private Deadline(long atNanos, Runnable action) {
            this.atNanos = atNanos;
            this.action = action;
        }
    }

    private final Set<Deadline> pending = ConcurrentHashMap.newKeySet();

    Deadlines(ScheduledExecutorService timers) {
        timers.scheduleWithFixedDelay(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Runs action on the timer thread once delayNanos have passed, unless cancelled first. */
    Deadline after(long delayNanos, Runnable action) {
        Deadline deadline = new Deadline(System.nanoTime() + delayNanos, action);
        pending.add(deadline);
        return deadline;
    }

    void cancel(Deadline deadline) {
        if (deadline != null) {
            pending.remove(deadline);
        }
    }

    private void tick() {
        if (pending.isEmpty()) {
            return;
        }
        long now = System.nanoTime();
        for (Deadline deadline : pending) {
            if (now - deadline.atNanos >= 0 && pending.remove(deadline)) {
                try {
                    deadline.action.run();
                } catch (RuntimeException e) {
                    Logger.getLogger(Deadlines.class).error("a deadline's action failed", e);
                }
            }
        }
    }
}
