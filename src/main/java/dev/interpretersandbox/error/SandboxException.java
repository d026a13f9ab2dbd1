package dev.interpretersandbox.error;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A request the service refuses or cannot serve, with a {@link Kind} and a message meant for the
 * user. The domain never names HTTP statuses: {@code api.ErrorMappers} maps the kind to one and the
 * message to {@code {"error": message}}, in one place.
 */
public class SandboxException extends RuntimeException {

    /** What went wrong, from the caller's point of view. */
    public enum Kind {
        /** The request itself is wrong (a malformed body, a bad path, a bad id). */
        INVALID,
        /** The caller may not do this (a path outside the workspace, a symlink). */
        FORBIDDEN,
        NOT_FOUND,
        /** It existed and was removed; details say why and when. */
        GONE,
        /** It conflicts with what exists (a file that already exists). */
        CONFLICT,
        /** The request or its body is larger than allowed, or does not fit. */
        TOO_LARGE,
        /** Too many requests wait already; retry later. */
        BUSY,
        /** The service cannot serve it now (at capacity, shutting down, a sandbox that cannot start). */
        UNAVAILABLE,
        /** A failure of the service itself. */
        INTERNAL
    }

    private final Kind kind;
    private final Map<String, Object> details;
    private final Duration retryAfter;

    public SandboxException(Kind kind, String message) {
        this(kind, message, Map.of(), null, null);
    }

    public SandboxException(Kind kind, String message, Throwable cause) {
        this(kind, message, Map.of(), null, cause);
    }

    public SandboxException(
            Kind kind, String message, Map<String, Object> details, Duration retryAfter, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.details = Map.copyOf(details);
        this.retryAfter = retryAfter;
    }

    /** The failure of an asynchronous step as a SandboxException (unwrapped; anything else is INTERNAL). */
    public static SandboxException of(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof SandboxException known) {
            return known;
        }
        return new SandboxException(Kind.INTERNAL, String.valueOf(cause.getMessage()), cause);
    }

    public static SandboxException invalid(String message) {
        return new SandboxException(Kind.INVALID, message);
    }

    public static SandboxException notFound(String message) {
        return new SandboxException(Kind.NOT_FOUND, message);
    }

    public static SandboxException tooLarge(String message) {
        return new SandboxException(Kind.TOO_LARGE, message);
    }

    /** Too many waiting: the client should retry after a moment. */
    public static SandboxException busy(String message) {
        return new SandboxException(Kind.BUSY, message, Map.of(), Duration.ofSeconds(1), null);
    }

    public static SandboxException unavailable(String message, Duration retryAfter) {
        return new SandboxException(Kind.UNAVAILABLE, message, Map.of(), retryAfter, null);
    }

    public Kind kind() {
        return kind;
    }

    /** Extra fields of the error body besides "error" (e.g. why and when a sandbox was removed). */
    public Map<String, Object> details() {
        return details;
    }

    /** How long a client should wait before retrying, when it should. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }
}
