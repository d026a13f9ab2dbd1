package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;

/**
 * The backend of the configured isolation mode, the one place that looks at sandbox.isolation.
 * Injected as {@link IsolationBackend} or as its {@code KernelLauncher} part.
 */
@ApplicationScoped
class KernelLaunchers {

    @Produces
    @ApplicationScoped
    IsolationBackend backend(SandboxConfig config, RunscBackend runsc, ProcessBackend process) {
        return config.isolation() == SandboxConfig.Isolation.PROCESS ? process : runsc;
    }
}
