package dev.interpretersandbox.isolation;

import dev.interpretersandbox.kernel.RunningCommand;
import java.io.InputStream;
import java.util.concurrent.CompletableFuture;

/**
 * A command whose output and exit are those of a child process of the service (runsc exec, or
 * the command itself in process mode); how it is signalled and its pid are each backend's.
 */
abstract class ChildCommand implements RunningCommand {

    protected final Process process;
    private final CompletableFuture<Integer> exit;

    ChildCommand(Process process) {
        this.process = process;
        this.exit = process.onExit().thenApply(Process::exitValue);
    }

    @Override
    public InputStream stdout() {
        return process.getInputStream();
    }

    @Override
    public InputStream stderr() {
        return process.getErrorStream();
    }

    @Override
    public CompletableFuture<Integer> exit() {
        return exit;
    }
}
