package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.isolation.IsolationBackend;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Optional;

/**
 * Whether the host can run sandboxes in the configured isolation mode, as its backend checks it.
 * Checked at startup and again on demand (readiness, while there is a problem); the last answer is
 * kept so GET / and readiness read it without running anything.
 */
@ApplicationScoped
public class RuntimeCheck {

    private final IsolationBackend backend;
    private volatile String problem = "not checked yet";

    RuntimeCheck(IsolationBackend backend) {
        this.backend = backend;
    }

    /** Runs the backend's checks; returns the problem, empty when usable. */
    public Optional<String> check() {
        problem = backend.check().orElse(null);
        return Optional.ofNullable(problem);
    }

    /** The last check's problem, or null when it passed. */
    public String problem() {
        return problem;
    }

    public String runtimeVersion() {
        return backend.runtimeVersion();
    }
}
