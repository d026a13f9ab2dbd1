package dev.interpretersandbox.kernel;

/** A kernel did not come up: the message says why (exit code, output, how long we waited). */
public class KernelStartException extends RuntimeException {
    public KernelStartException(String message) {
        super(message);
    }

    public KernelStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
