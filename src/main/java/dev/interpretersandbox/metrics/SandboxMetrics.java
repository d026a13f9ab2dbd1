package dev.interpretersandbox.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The service's own meters, scraped at {@code /q/metrics} (Prometheus names in brackets):
 * executions by status [sandbox_executions_total], execution duration [sandbox_execution_seconds],
 * timeouts [sandbox_timeouts_total], kernel restarts by cause [sandbox_kernel_restarts_total],
 * live sandboxes [sandbox_live], reaped sandboxes [sandbox_reaped_total] and transferred bytes
 * [sandbox_uploaded_bytes_total, sandbox_downloaded_bytes_total], sandboxes brought back at startup
 * [sandbox_startup_adopted_total] and saved at shutdown [sandbox_shutdown_saved_total]. Thread-safe.
 */
@ApplicationScoped
public class SandboxMetrics {

    /** Why a kernel was replaced: the {@code cause} tag of sandbox_kernel_restarts_total. */
    public enum RestartCause {
        /** The code ignored the interrupt after a timeout (or a disconnect). */
        INTERRUPT_IGNORED,
        OUT_OF_MEMORY,
        /** Died during an execution for another reason (killed, crashed, pids limit). */
        DIED,
        /** Found dead when the next execution came. */
        DIED_IDLE,
        /** It broke the driver protocol (forged ids, oversized or malformed output at volume). */
        PROTOCOL;

        String tag() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final Duration[] BUCKETS = {
        Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10),
        Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofMinutes(5), Duration.ofMinutes(15)
    };

    private final MeterRegistry registry;
    private final Map<String, Counter> executions = new ConcurrentHashMap<>();
    private final Map<String, Timer> durations = new ConcurrentHashMap<>();
    private final Map<String, Counter> dropped = new ConcurrentHashMap<>();
    private final Counter timeouts;
    private final Counter reaped;
    private final Counter uploaded;
    private final Counter downloaded;

    public SandboxMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.timeouts = Counter.builder("sandbox.timeouts")
                .description("Executions that reached their timeout")
                .register(registry);
        this.reaped = Counter.builder("sandbox.reaped")
                .description("Sandboxes torn down by the reaper for being idle")
                .register(registry);
        this.uploaded = Counter.builder("sandbox.uploaded")
                .baseUnit("bytes")
                .description("Bytes written into workspaces by uploads")
                .register(registry);
        this.downloaded = Counter.builder("sandbox.downloaded")
                .baseUnit("bytes")
                .description("Bytes sent from workspaces by downloads")
                .register(registry);
    }

    /** One execution ended with status (ok, error, timeout, cancelled) after running for duration. */
    public void executed(String status, Duration duration) {
        // Looked up once per status: this runs on every execution.
        executions
                .computeIfAbsent(
                        status,
                        key -> Counter.builder("sandbox.executions")
                                .description("Executions by final status")
                                .tag("status", key)
                                .register(registry))
                .increment();
        durations
                .computeIfAbsent(
                        status,
                        key -> Timer.builder("sandbox.execution")
                                .description(
                                        "Time from the code reaching the kernel to the result, sandbox start excluded")
                                .tag("status", key)
                                .serviceLevelObjectives(BUCKETS)
                                .register(registry))
                .record(duration);
        if (status.equals("timeout")) {
            timeouts.increment();
        }
    }

    public void kernelRestarted(RestartCause cause) {
        Counter.builder("sandbox.kernel.restarts")
                .description("Kernels torn down so that the next execution starts a fresh one, by cause")
                .tag("cause", cause.tag())
                .register(registry)
                .increment();
    }

    /** A line from a kernel's driver was dropped: why is "unknown type" or "malformed". */
    public void protocolDropped(String why) {
        dropped.computeIfAbsent(
                        why,
                        key -> Counter.builder("sandbox.kernel.protocol.dropped")
                                .description(
                                        "Lines from kernels dropped by the service: unknown types and malformed lines")
                                .tag("why", key.replace(' ', '_'))
                                .register(registry))
                .increment();
    }

    /**
     * Sandboxes found in the registry at startup, by outcome: paused (their image was saved),
     * stopped (no kernel ran), recovered (a kernel ran: the service had not stopped cleanly),
     * expired (their time ran out while the service was down) and damaged (unreadable record).
     */
    public void adopted(String outcome, int count) {
        Counter.builder("sandbox.startup.adopted")
                .description("Sandboxes found in the registry at startup, by outcome")
                .tag("outcome", outcome)
                .register(registry)
                .increment(count);
    }

    /** Sandboxes handled at shutdown: saved (checkpointed), idle (nothing to save) or lost (could not be saved). */
    public void shutdownSaved(String outcome, int count) {
        Counter.builder("sandbox.shutdown.saved")
                .description("Sandboxes handled at shutdown, by outcome")
                .tag("outcome", outcome)
                .register(registry)
                .increment(count);
    }

    public void reaped(int count) {
        reaped.increment(count);
    }

    public void uploaded(long bytes) {
        uploaded.increment(bytes);
    }

    public void downloaded(long bytes) {
        downloaded.increment(bytes);
    }

    /**
     * Registers the capacity gauges an autoscaler reads: sandboxes held now (warm-pool members
     * included) and how many more fit, and the memory budget and how much of it is free.
     */
    public void capacity(
            Supplier<Number> sandboxes, Supplier<Number> freeSandboxes, long budget, Supplier<Number> freeMemory) {
        Gauge.builder("sandbox.sandboxes", sandboxes)
                .description("Sandboxes on this instance, warm-pool members included")
                .register(registry);
        Gauge.builder("sandbox.capacity.free.sandboxes", freeSandboxes)
                .description("How many more sandboxes this instance takes (sandbox.sandboxes.max-count)")
                .register(registry);
        Gauge.builder("sandbox.capacity.memory.budget", () -> budget)
                .baseUnit("bytes")
                .description("The sum of sandbox memory limits this instance allows")
                .register(registry);
        Gauge.builder("sandbox.capacity.free.memory", freeMemory)
                .baseUnit("bytes")
                .description("Memory budget not yet reserved by a sandbox's limit")
                .register(registry);
        Gauge.builder(
                        "sandbox.capacity.used.ratio",
                        () -> Math.max(
                                1
                                        - freeSandboxes.get().doubleValue()
                                                / Math.max(
                                                        1,
                                                        sandboxes.get().doubleValue()
                                                                + freeSandboxes
                                                                        .get()
                                                                        .doubleValue()),
                                budget <= 0 ? 1 : 1 - freeMemory.get().doubleValue() / budget))
                .description("Share of this instance's capacity in use: the larger of its sandbox count and its memory"
                        + " budget; what the fleet's autoscaler targets")
                .register(registry);
    }

    /** Registers the gauge of sandboxes that have a running kernel. */
    public void liveSandboxes(Supplier<Number> count) {
        Gauge.builder("sandbox.live", count)
                .description("Sandboxes with a running kernel")
                .register(registry);
    }
}
