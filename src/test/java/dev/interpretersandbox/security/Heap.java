package dev.interpretersandbox.security;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the service holds in its heap while an attack runs (the tests run in the service's JVM):
 * the largest sum of heap pools measured right after a collection, i.e. live data, not garbage.
 */
final class Heap implements AutoCloseable {

    private final long baseline;
    private final AtomicLong peak = new AtomicLong();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread sampler;

    Heap() {
        System.gc();
        baseline = liveAfterGc();
        sampler = new Thread(() -> {
            while (running.get()) {
                peak.accumulateAndGet(liveAfterGc(), Math::max);
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
    }

    private static long liveAfterGc() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getCollectionUsage() != null) {
                sum += pool.getCollectionUsage().getUsed();
            }
        }
        return sum;
    }

    /** How much more live data the heap held at its worst than before the attack. */
    long growth() {
        return Math.max(0, peak.get() - baseline);
    }

    @Override
    public void close() {
        running.set(false);
    }

    static int threads() {
        return ManagementFactory.getThreadMXBean().getThreadCount();
    }
}
