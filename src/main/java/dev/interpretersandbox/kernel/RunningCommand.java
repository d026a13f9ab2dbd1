package dev.interpretersandbox.kernel;

import java.io.InputStream;
import java.util.concurrent.CompletableFuture;

/**
 * A command started next to a kernel: its output streams, its exit, and a way to signal it (and
 * what it started) by name, e.g. {@code TERM}, {@code INT}, {@code KILL}.
 */
public interface RunningCommand {

    /** Its process id where it runs (inside the sandbox under runsc). */
    long pid();

    InputStream stdout();

    InputStream stderr();

    /** Completes with the exit code; 128 + n when signal n ended it. */
    CompletableFuture<Integer> exit();

    /** Sends a signal to the command and everything it started; false when it is already over. */
    boolean signal(String name);
}
