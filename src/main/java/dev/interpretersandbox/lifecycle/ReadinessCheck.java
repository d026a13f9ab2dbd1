package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxState;
import dev.interpretersandbox.sandbox.SandboxView;
import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready while the kernel runtime is usable, the default sandbox is not broken, the warm pool
 * can start sandboxes, and the service is not shutting down (no new work is routed here then). Reads what is known without blocking (on the event loop), so it answers
 * however busy the sandboxes are; only while the runtime is broken is it checked again, on a
 * worker thread, so readiness recovers once the host is fixed.
 */
@Readiness
@ApplicationScoped
class ReadinessCheck implements AsyncHealthCheck {

    private final RuntimeCheck runtime;
    private final SandboxService sandboxes;

    ReadinessCheck(RuntimeCheck runtime, SandboxService sandboxes) {
        this.runtime = runtime;
        this.sandboxes = sandboxes;
    }

    @Override
    public Uni<HealthCheckResponse> call() {
        if (runtime.problem() == null) {
            return Uni.createFrom().item(this::response);
        }
        return Uni.createFrom()
                .item(() -> {
                    runtime.check();
                    return response();
                })
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
    }

    private HealthCheckResponse response() {
        String problem = sandboxes.draining() ? "the service is shutting down" : runtime.problem();
        // Looked at, not created: in fleet mode only the default instance holds the default sandbox.
        SandboxView sandbox =
                sandboxes.find(SandboxService.DEFAULT).map(Sandbox::view).orElse(null);
        if (problem == null && sandbox != null && sandbox.state() == SandboxState.BROKEN) {
            problem = sandbox.startFailure();
        }
        if (problem == null) {
            problem = sandboxes.poolProblem();
        }
        return HealthCheckResponse.named("sandbox-runtime")
                .status(problem == null)
                .withData("runtime", String.valueOf(runtime.runtimeVersion()))
                .withData("problem", problem == null ? "none" : problem)
                .withData("warm_pool_ready", sandboxes.poolReady())
                .build();
    }
}
