package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.IsolationBackend;
import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.Scheduler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Clock;
import java.util.HashSet;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * The scheduled work: the reaper pauses or tears down sandboxes that expired (idle timeout,
 * maximum lifetime, maximum busy time) every sandbox.reaper-interval; the crash watcher finds
 * kernels that died while idle within a second; and the orphan sweep removes containers and
 * cgroups that belong to no sandbox of this service (anything that slipped past a teardown).
 */
@ApplicationScoped
class Reaper {

    private static final Logger LOG = Logger.getLogger(Reaper.class);

    private final SandboxService sandboxes;
    private final IsolationBackend backend;
    private final SandboxConfig config;
    private final Clock clock;
    private Set<String> suspects = Set.of(); // orphan sweep thread only

    Reaper(SandboxService sandboxes, IsolationBackend backend, SandboxConfig config, Clock clock) {
        this.sandboxes = sandboxes;
        this.backend = backend;
        this.config = config;
        this.clock = clock;
    }

    /** The reaper's interval is the setting itself, not a second copy of it in an annotation. */
    void schedule(@Observes StartupEvent event, Scheduler scheduler) {
        scheduler
                .newJob("reaper")
                .setInterval(config.reaperInterval().toString())
                .setDelayed(config.reaperInterval().toString())
                .setConcurrentExecution(Scheduled.ConcurrentExecution.SKIP) // a slow pause must not stack up runs
                .setTask(execution -> sandboxes.reapExpired(clock.instant()))
                .schedule();
        scheduler
                .newJob("orphan-sweep")
                .setInterval(config.orphanSweepInterval().toString())
                .setDelayed(config.orphanSweepInterval().toString())
                .setConcurrentExecution(Scheduled.ConcurrentExecution.SKIP)
                .setTask(execution -> sweepOrphans())
                .schedule();
    }

    /**
     * Every second: kernels that died while idle are torn down, and records whose clocks changed
     * (last activity, busy time) are written, so a crash loses at most a second of them.
     */
    @Scheduled(every = "1s", delayed = "1s", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void watchKernels() {
        sandboxes.checkKernels();
        sandboxes.flushRecords();
    }

    /**
     * Removes containers no sandbox holds. A container must be seen unclaimed by two sweeps in a
     * row: one that is starting right now belongs to its sandbox by the next sweep.
     */
    void sweepOrphans() {
        Set<String> unclaimed = new HashSet<>(backend.containers());
        unclaimed.removeAll(sandboxes.knownKernels());
        for (String container : unclaimed) {
            if (suspects.contains(container)) {
                LOG.warnf("removing container %s: it belongs to no sandbox of this service", container);
                backend.remove(container);
            }
        }
        suspects = unclaimed;
    }
}
