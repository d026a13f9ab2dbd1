package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.OutputBudget;
import dev.interpretersandbox.metrics.SandboxMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.runtime.configuration.MemorySizeConverter;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The sandbox core for fast tests: the real service, sandboxes, executions and protocol client,
 * with {@link FakeKernel}s, a hand-moved clock and its own state directory. No root, no runsc.
 */
final class Core implements AutoCloseable {

    final SandboxConfig config;
    final FakeLauncher launcher;
    final TestClock clock = new TestClock();
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final SandboxService service;
    final Path state;
    private final ThreadPoolExecutor execution = (ThreadPoolExecutor) Executors.newFixedThreadPool(4);
    private final ThreadPoolExecutor lifecycle = (ThreadPoolExecutor) Executors.newFixedThreadPool(4);
    private final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1);

    Core() {
        this(Map.of());
    }

    Core(Map<String, String> settings) {
        this(settings, newStateDirectory(), true);
    }

    private final boolean ownsState;

    /**
     * A core on an existing state directory: a "restart" of the service when another core used it
     * before. Only a core that made its state directory deletes it.
     */
    Core(Map<String, String> settings, Path state, boolean ownsState) {
        this.state = state;
        this.ownsState = ownsState;
        Map<String, String> values = new HashMap<>();
        values.put("sandbox.state-dir", state.toString());
        values.put("sandbox.sandboxes.pool.size", "0");
        values.put("sandbox.execute.interrupt-grace", "300ms");
        values.put("sandbox.sandboxes.memory-budget", "64G");
        values.putAll(settings);
        config = new SmallRyeConfigBuilder()
                .withMapping(SandboxConfig.class)
                .withConverter(MemorySize.class, 100, new MemorySizeConverter())
                .withConverter(Duration.class, 100, new DurationConverter())
                .withDefaultValues(values)
                .build()
                .getConfigMapping(SandboxConfig.class);
        SandboxMetrics metrics = new SandboxMetrics(registry);
        launcher = new FakeLauncher(OutputBudget.of(config.output()).channelLimits(), metrics::protocolDropped);
        service =
                new SandboxService(config, launcher, uid(), metrics, new Workers(execution, lifecycle, timers), clock);
    }

    private static Path newStateDirectory() {
        try {
            return Files.createTempDirectory("core-test");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs code on a sandbox and waits for the result. */
    static Run run(Sandbox sandbox, String code) {
        return run(sandbox, code, Duration.ofSeconds(10));
    }

    static Run run(Sandbox sandbox, String code, Duration timeout) {
        CollectingSink sink = new CollectingSink();
        sandbox.execute(new ExecutionRequest(code, timeout, true), sink);
        Run run = new Run(sink.await(Duration.ofSeconds(20)), sink);
        settle(sandbox);
        return run;
    }

    /** Waits until the sandbox released its last job: a result reaches its caller just before that. */
    static void settle(Sandbox sandbox) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!sandbox.settled()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("sandbox " + sandbox.id() + " did not settle");
            }
            Thread.onSpinWait();
        }
    }

    /** Starts code without waiting. */
    static CollectingSink start(Sandbox sandbox, String code, Duration timeout) {
        CollectingSink sink = new CollectingSink();
        sandbox.execute(new ExecutionRequest(code, timeout, true), sink);
        return sink;
    }

    record Run(ExecutionResult result, CollectingSink sink) {
        ExecutionStatus status() {
            return result.status();
        }

        String stdout() {
            StringBuilder out = new StringBuilder();
            for (Event event : sink.events()) {
                if (event.data() instanceof Event.Stream stream && stream.name().equals("stdout")) {
                    out.append(stream.text());
                }
            }
            return out.toString();
        }

        List<String> errors() {
            return sink.events().stream()
                    .filter(e -> e.data() instanceof Event.Error)
                    .map(e -> ((Event.Error) e.data()).ename())
                    .toList();
        }

        String errorValue(String ename) {
            return sink.events().stream()
                    .filter(e -> e.data() instanceof Event.Error error
                            && error.ename().equals(ename))
                    .map(e -> ((Event.Error) e.data()).evalue())
                    .findFirst()
                    .orElseThrow();
        }
    }

    double counter(String name, String tag, String value) {
        var meter = registry.find(name).tag(tag, value).counter();
        return meter == null ? 0 : meter.count();
    }

    /** As kill -9 would leave it: the threads stop, sandboxes and state stay as they are. */
    void abandon() {
        timers.shutdownNow();
        execution.shutdownNow();
        lifecycle.shutdownNow();
    }

    /** Deletes the state directory (a core that did not make it, after a test of restarts). */
    void delete() {
        abandon();
        Trees.delete(state);
    }

    @Override
    public void close() {
        service.destroyAll();
        timers.shutdownNow();
        execution.shutdownNow();
        lifecycle.shutdownNow();
        try {
            lifecycle.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (ownsState) {
            Trees.delete(state);
        }
    }
}
