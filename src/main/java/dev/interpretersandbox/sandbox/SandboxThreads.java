package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Clock;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The sandboxes' own bounded thread pools, apart from the HTTP server's: whatever executions,
 * kernel starts and slow clients do, health checks, pings and other tenants' requests keep their
 * threads. Sized for the host (twice its CPUs, at least four, unless configured).
 */
@ApplicationScoped
class SandboxThreads {

    private final ThreadPoolExecutor execution;
    private final ThreadPoolExecutor lifecycle;
    private final ScheduledThreadPoolExecutor timers;

    SandboxThreads(SandboxConfig config) {
        int cpus = Runtime.getRuntime().availableProcessors();
        int fallback = Math.max(4, 2 * cpus);
        this.execution = pool("sandbox-exec", config.execute().threads().orElse(fallback));
        this.lifecycle =
                pool("sandbox-lifecycle", config.sandboxes().lifecycleThreads().orElse(fallback));
        this.timers = new ScheduledThreadPoolExecutor(1, named("sandbox-timer"));
        this.timers.setRemoveOnCancelPolicy(true);
    }

    private static ThreadPoolExecutor pool(String name, int threads) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(
                threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), named(name));
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    private static ThreadFactory named(String name) {
        AtomicInteger count = new AtomicInteger();
        ThreadFactory base = Executors.defaultThreadFactory();
        return task -> {
            Thread thread = base.newThread(task);
            thread.setName(name + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    @Produces
    @Singleton
    Workers workers() {
        return new Workers(execution, lifecycle, timers);
    }

    @Produces
    @Singleton
    Clock clock() {
        return Clock.systemUTC();
    }

    @PreDestroy
    void stop() {
        timers.shutdownNow();
        execution.shutdown();
        lifecycle.shutdown();
    }
}
