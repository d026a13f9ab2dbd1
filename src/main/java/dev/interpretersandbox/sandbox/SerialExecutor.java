package dev.interpretersandbox.sandbox;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jboss.logging.Logger;

/**
 * Runs tasks one at a time, in the order given, on a shared pool: at most one of its threads at
 * a time, and none while nothing waits. Each task goes back to the pool's queue after the one
 * before, so that a long line of one sandbox's tasks takes turns with everyone else's.
 */
final class SerialExecutor implements Executor {

    private static final Logger LOG = Logger.getLogger(SerialExecutor.class);

    private final Executor pool;
    private final Deque<Runnable> tasks = new ArrayDeque<>();
    private boolean running; // a task of this line is queued in the pool or runs

    SerialExecutor(Executor pool) {
        this.pool = pool;
    }

    @Override
    public void execute(Runnable task) {
        synchronized (this) {
            tasks.add(task);
            if (running) {
                return;
            }
            running = true;
        }
        try {
            pool.execute(this::runOne);
        } catch (RejectedExecutionException e) {
            synchronized (this) {
                tasks.clear(); // only this caller's task: none waited while the line was not running
                running = false;
            }
            throw e; // the caller learns that its task will not run
        }
    }

    /** The next task of the line, after one ended (a pool thread). */
    private void submitNext() {
        try {
            pool.execute(this::runOne);
        } catch (RejectedExecutionException e) {
            synchronized (this) {
                running = false; // the pool is shutting down: what waits in the line is not run
            }
            LOG.debugf("the pool refused the line's next task: %s", e.getMessage());
        }
    }

    private void runOne() {
        Runnable task;
        synchronized (this) {
            task = tasks.poll();
        }
        try {
            task.run();
        } catch (RuntimeException e) {
            LOG.errorf(e, "a task failed");
        } finally {
            boolean more;
            synchronized (this) {
                more = !tasks.isEmpty();
                running = more;
            }
            if (more) {
                submitNext();
            }
        }
    }
}
