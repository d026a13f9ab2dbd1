package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;
import java.time.Duration;

/**
 * Whether the service is shutting down. From then on no new execution or sandbox is accepted
 * (503 with Retry-After: another instance, or this one after its restart, will take it), while
 * the ones already running get their grace and every sandbox is saved.
 *
 * <p>Thread-safety: one volatile flag.
 */
final class Draining {

    /** What a client refused during shutdown is told to wait. */
    static final Duration RETRY_AFTER = Duration.ofSeconds(5);

    private volatile boolean draining;

    void begin() {
        draining = true;
    }

    boolean active() {
        return draining;
    }

    /** Throws UNAVAILABLE while the service shuts down. */
    void refuseNewWork() {
        if (draining) {
            throw SandboxException.unavailable(
                    "the service is shutting down; retry in a moment (sandboxes are saved and come back with it)",
                    RETRY_AFTER);
        }
    }
}
