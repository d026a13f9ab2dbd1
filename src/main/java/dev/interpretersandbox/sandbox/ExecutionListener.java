package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.kernel.Event;

/** Receives one execution's events as they happen, on the executing thread. */
public interface ExecutionListener {

    /** The kernel is ready and has the code: from here on the timeout counts. */
    default void started() {}

    /** The next event, in order. */
    void event(Event event);
}
