package dev.interpretersandbox.isolation;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Runs an external command from an argument list, with a deadline, capturing its output. */
public final class CommandRunner {

    /** Output of a finished command. */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** Throws with the command, exit code and stderr unless it succeeded. */
        public Result orThrow() {
            if (!ok()) {
                throw new CommandException(String.join(" ", command) + " exited with " + exitCode + ": "
                        + tail(stderr.isBlank() ? stdout : stderr));
            }
            return this;
        }
    }

    /** An external command failed, timed out or could not be started. */
    public static final class CommandException extends RuntimeException {
        public CommandException(String message) {
            super(message);
        }

        public CommandException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private CommandRunner() {}

    public static Result run(List<String> command, Duration deadline) {
        Process process;
        try {
            process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.PIPE)
                    .start();
        } catch (IOException e) {
            throw new CommandException("cannot start " + command.get(0) + ": " + e.getMessage(), e);
        }
        try {
            process.getOutputStream().close();
            CompletableFuture<String> out = drain(process.getInputStream());
            CompletableFuture<String> err = drain(process.getErrorStream());
            if (!process.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new CommandException(String.join(" ", command) + " did not finish within " + deadline.toSeconds()
                        + " s" + stderrSoFar(err));
            }
            return new Result(command, process.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new CommandException("interrupted while running " + command.get(0), e);
        } catch (IOException | ExecutionException | TimeoutException e) {
            process.destroyForcibly();
            throw new CommandException("cannot read the output of " + command.get(0) + ": " + e.getMessage(), e);
        }
    }

    private static String stderrSoFar(CompletableFuture<String> err) {
        String text = err.getNow("");
        return text.isBlank() ? "" : ": " + tail(text);
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
    }

    static String tail(String text) {
        String trimmed = text.strip();
        return trimmed.length() <= 2000 ? trimmed : "..." + trimmed.substring(trimmed.length() - 2000);
    }
}
