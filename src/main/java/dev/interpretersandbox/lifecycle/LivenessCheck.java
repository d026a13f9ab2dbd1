package dev.interpretersandbox.lifecycle;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/** The service answers; a broken sandbox runtime is a readiness matter, not a reason to restart. */
@Liveness
@ApplicationScoped
class LivenessCheck implements HealthCheck {
    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.up("service");
    }
}
