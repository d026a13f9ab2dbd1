package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.kernel.Event;
import java.util.List;

/**
 * What one execution produced: status {@code ok}, {@code timeout} or {@code error}, its events
 * (empty when they were streamed), and what it used. {@code cancelled} (the caller went away) is
 * never sent to anyone; metrics and logs see it.
 */
public record ExecutionResult(String status, List<Event> events, Usage usage) {
    public static final String OK = "ok";
    public static final String TIMEOUT = "timeout";
    public static final String ERROR = "error";
    public static final String CANCELLED = "cancelled";

    /**
     * Resources of one execution: wall time, CPU time of the whole sandbox and its peak memory
     * during the execution (from its cgroup; null where there is none, e.g. an unprivileged pod).
     */
    public record Usage(double wallMs, Double cpuMs, Long peakMemoryBytes) {}
}
