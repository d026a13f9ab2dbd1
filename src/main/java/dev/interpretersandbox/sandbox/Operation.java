package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** A job that runs one blocking task on the lifecycle threads (a reset, a pause, a pool step). */
final class Operation<T> extends Job {

    private final Sandbox sandbox;
    private final Callable<T> task;
    private final CompletableFuture<T> result = new CompletableFuture<>();

    Operation(Sandbox sandbox, Callable<T> task) {
        this.sandbox = sandbox;
        this.task = task;
    }

    CompletionStage<T> result() {
        return result;
    }

    @Override
    void start() {
        sandbox.context().workers().lifecycle().execute(this::run);
    }

    /** Runs the task on the calling thread (a caller that already is on a lifecycle thread). */
    void run() {
        T value = null;
        Throwable failure = null;
        try {
            value = task.call();
        } catch (Throwable e) {
            failure = e;
        }
        // The sandbox is free before anyone hears the result: whoever acts on it (the reaper's
        // next pass, a client's next call) finds no job still holding the sandbox.
        sandbox.finished(this);
        if (failure != null) {
            result.completeExceptionally(failure);
        } else {
            result.complete(value);
        }
    }

    @Override
    void abandon(SandboxException why) {
        result.completeExceptionally(why);
    }
}
