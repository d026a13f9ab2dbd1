package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelLauncher;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;

/** The launcher of the configured isolation mode. */
@ApplicationScoped
class KernelLaunchers {

    @Produces
    @ApplicationScoped
    KernelLauncher launcher(SandboxConfig config, RunscLauncher runsc, ProcessLauncher process) {
        return config.isolation() == SandboxConfig.Isolation.PROCESS ? process : runsc;
    }
}
