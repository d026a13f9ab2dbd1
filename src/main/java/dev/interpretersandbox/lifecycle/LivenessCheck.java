package dev.interpretersandbox.lifecycle;

import io.smallrye.health.api.AsyncHealthCheck;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/**
 * The service answers. Asynchronous, so it runs on the event loop and needs no worker thread: a
 * liveness probe must not fail (and get the pod and every sandbox killed) because workers are
 * busy. A broken sandbox runtime is a readiness matter, not a reason to restart.
 */
@Liveness
@ApplicationScoped
class LivenessCheck implements AsyncHealthCheck {
    @Override
    public Uni<HealthCheckResponse> call() {
        return Uni.createFrom().item(HealthCheckResponse.up("service"));
    }
}
