package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxState;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Ready while the kernel runtime is usable, the default sandbox is not broken and the warm pool can start sandboxes. */
@Readiness
@ApplicationScoped
class ReadinessCheck implements HealthCheck {

    private final RuntimeCheck runtime;
    private final SandboxService sandboxes;

    ReadinessCheck(RuntimeCheck runtime, SandboxService sandboxes) {
        this.runtime = runtime;
        this.sandboxes = sandboxes;
    }

    @Override
    public HealthCheckResponse call() {
        String problem = runtime.problem();
        if (problem != null) {
            // Re-check, so readiness recovers once the host is fixed.
            problem = runtime.check().orElse(null);
        }
        var sandbox = sandboxes.defaultSandbox();
        if (problem == null && sandbox.state() == SandboxState.BROKEN) {
            problem = sandbox.startFailure();
        }
        if (problem == null) {
            problem = sandboxes.poolProblem();
        }
        return HealthCheckResponse.named("sandbox-runtime")
                .status(problem == null)
                .withData("runsc", String.valueOf(runtime.runscVersion()))
                .withData("problem", problem == null ? "none" : problem)
                .withData("warm_pool_ready", sandboxes.poolReady())
                .build();
    }
}
