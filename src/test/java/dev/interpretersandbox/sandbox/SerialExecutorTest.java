package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** One sandbox's uploads are opened one at a time, and never hold more than one pool thread. */
class SerialExecutorTest {

    private final ExecutorService pool = Executors.newFixedThreadPool(2);

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    @Test
    void tasksRunOneAtATimeInTheOrderGiven() throws Exception {
        SerialExecutor line = new SerialExecutor(pool);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(200);
        for (int i = 0; i < 200; i++) {
            int n = i;
            line.execute(() -> {
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                order.add(n);
                inside.decrementAndGet();
                done.countDown();
            });
        }
        assertTrue(done.await(10, TimeUnit.SECONDS));
        assertEquals(1, most.get(), "tasks of one line overlapped");
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            expected.add(i);
        }
        assertEquals(expected, order);
    }

    @Test
    void aLineWhoseTaskHangsLeavesThePoolsOtherThreadsToEveryoneElse() throws Exception {
        SerialExecutor flooded = new SerialExecutor(pool);
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch hanging = new CountDownLatch(1);
        AtomicInteger ranOfFlood = new AtomicInteger();
        for (int i = 0; i < 40; i++) { // as 40 uploads at once, each walking a huge workspace
            flooded.execute(() -> {
                ranOfFlood.incrementAndGet();
                hanging.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        assertTrue(hanging.await(10, TimeUnit.SECONDS));
        CountDownLatch others = new CountDownLatch(20);
        SerialExecutor other = new SerialExecutor(pool);
        for (int i = 0; i < 10; i++) {
            pool.execute(others::countDown); // another tenant's execution work
            other.execute(others::countDown); // another sandbox's uploads
        }
        assertTrue(others.await(10, TimeUnit.SECONDS), "the other work waited for the flooded line");
        assertEquals(1, ranOfFlood.get(), "the flooded line took a second thread");
        release.countDown();
    }

    @Test
    void aFailingTaskDoesNotStopTheLine() throws Exception {
        SerialExecutor line = new SerialExecutor(pool);
        CountDownLatch after = new CountDownLatch(1);
        line.execute(() -> {
            throw new IllegalStateException("refused");
        });
        line.execute(after::countDown);
        assertTrue(after.await(10, TimeUnit.SECONDS));
    }
}
