package dev.interpretersandbox.sandbox;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The service-wide cap on executions waiting for their sandbox: each holds its request (up to
 * the request size limit) while it waits, so their number bounds that memory. Thread-safe.
 */
public final class Admission {

    private final int max;
    private final AtomicInteger waiting = new AtomicInteger();

    public Admission(int max) {
        this.max = max;
    }

    /** Takes a waiting slot; false when all are taken. */
    boolean enter() {
        while (true) {
            int now = waiting.get();
            if (now >= max) {
                return false;
            }
            if (waiting.compareAndSet(now, now + 1)) {
                return true;
            }
        }
    }

    void leave() {
        waiting.decrementAndGet();
    }

    public int waiting() {
        return waiting.get();
    }

    public int max() {
        return max;
    }
}
