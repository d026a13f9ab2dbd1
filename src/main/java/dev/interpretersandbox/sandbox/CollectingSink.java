package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A sink that keeps every event in memory: for the service's own code (pool preload) and tests. */
public class CollectingSink implements EventSink {

    private final List<Event> events = new ArrayList<>();
    private final CompletableFuture<ExecutionResult> result = new CompletableFuture<>();

    @Override
    public void started() {}

    @Override
    public synchronized void event(Event event) {
        events.add(event);
    }

    @Override
    public CompletionStage<Void> complete(ExecutionResult done) {
        result.complete(done);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void failed(SandboxException error) {
        result.completeExceptionally(error);
    }

    public synchronized List<Event> events() {
        return List.copyOf(events);
    }

    public CompletionStage<ExecutionResult> result() {
        return result;
    }

    /** Waits for the result; throws the execution's failure, or a timeout. */
    public ExecutionResult await(Duration timeout) {
        try {
            return result.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new SandboxException(SandboxException.Kind.UNAVAILABLE, "no result within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SandboxException(SandboxException.Kind.UNAVAILABLE, "interrupted while waiting for a result");
        }
    }
}
