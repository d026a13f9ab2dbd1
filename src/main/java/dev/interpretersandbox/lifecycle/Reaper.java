package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;

/** Tears down sandboxes idle for longer than {@code sandbox.idle-timeout}. */
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
        sandboxes.reapIdle(Instant.now());
    }
}
