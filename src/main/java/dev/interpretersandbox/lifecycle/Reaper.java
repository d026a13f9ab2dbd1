package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;

/**
 * Tears down sandboxes that expired (idle timeout, maximum lifetime, maximum busy time), and
 * watches for kernels that died while idle (killed from outside), so their runsc state, cgroups
 * and bundles are cleaned up within seconds instead of at the next call.
 */
@ApplicationScoped
class Reaper {

    private final SandboxService sandboxes;

    Reaper(SandboxService sandboxes) {
        this.sandboxes = sandboxes;
    }

    // SKIP: a slow teardown must not stack up reaper runs.
    @Scheduled(
            every = "${sandbox.reaper-interval:30s}",
            delayed = "${sandbox.reaper-interval:30s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void reap() {
        sandboxes.reapExpired(Instant.now());
    }

    @Scheduled(every = "1s", delayed = "1s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void watchKernels() {
        sandboxes.checkKernels();
    }
}
