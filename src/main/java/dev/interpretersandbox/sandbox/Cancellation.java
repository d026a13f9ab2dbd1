package dev.interpretersandbox.sandbox;

/**
 * Lets the caller of an execution give up on it (the HTTP client went away). The execution is
 * interrupted like a timeout, so the kernel is idle for the next caller. Thread-safe: cancel from
 * any thread; the sandbox registers what wakes its executing thread.
 */
public final class Cancellation {

    private volatile boolean cancelled;
    private volatile Runnable waker;

    public void cancel() {
        cancelled = true;
        Runnable current = waker;
        if (current != null) {
            current.run();
        }
    }

    public boolean cancelled() {
        return cancelled;
    }

    /** Registers what to run on cancel (at once if already cancelled); null unregisters. */
    void onCancel(Runnable action) {
        waker = action;
        if (action != null && cancelled) {
            action.run();
        }
    }
}
