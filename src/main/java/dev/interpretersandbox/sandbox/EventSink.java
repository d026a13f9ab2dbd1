package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;
import java.util.concurrent.CompletionStage;

/**
 * Where one execution's events go: an HTTP response, or a collector. The execution keeps its
 * sandbox until {@link #complete} says the client has everything, so a client that does not read
 * holds up only its own sandbox, never the service's memory.
 *
 * <p>Thread-safety: {@link #event} may be called from any thread but never concurrently;
 * {@link #awaitRoom} only from the kernel's reader thread.
 */
public interface EventSink {

    /** The kernel has the code: from here on the timeout counts. Called once, before any event. */
    void started();

    /** The next event, in order. Never blocks: the sink keeps it until its client takes it. */
    void event(Event event);

    /**
     * Blocks while the sink holds more than it wants to (its client reads slowly), which stops the
     * kernel's output at its source. Returns false once the sink gave up (the client is gone).
     */
    default boolean awaitRoom() {
        return true;
    }

    /** The execution is over; the stage completes once the client has it all or is gone. */
    CompletionStage<Void> complete(ExecutionResult result);

    /**
     * The execution could not run or broke off: before {@link #started} it is an ordinary error
     * response, after it the end of the stream.
     */
    void failed(SandboxException error);
}
