package dev.interpretersandbox.error;

/**
 * A request the service refuses or cannot serve, with the HTTP status the API answers and a
 * message meant for the user. Mapped to {@code {"error": message}} in one place (api.ErrorMappers).
 */
public class ServiceException extends RuntimeException {

    private final int status;

    public ServiceException(int status, String message) {
        super(message);
        this.status = status;
    }

    public ServiceException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    public int status() {
        return status;
    }

    /** Seconds a client should wait before retrying (503 at capacity), or -1: no Retry-After header. */
    public long retryAfterSeconds() {
        return -1;
    }

    /** Extra fields of the error body besides "error" (e.g. why and when a sandbox was removed). */
    public java.util.Map<String, Object> details() {
        return java.util.Map.of();
    }
}
