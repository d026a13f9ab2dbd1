package dev.interpretersandbox.sandbox;

/**
 * How one execution ended, and what it used; for a command also its exit code. Its events went to
 * the execution's {@link EventSink}.
 */
public record ExecutionResult(ExecutionStatus status, Usage usage, Integer exitCode) {

    public ExecutionResult(ExecutionStatus status, Usage usage) {
        this(status, usage, null);
    }

    /**
     * Resources of one execution: wall time, CPU time of the whole sandbox and its peak memory
     * during the execution (from its cgroup; null where there is none, e.g. an unprivileged pod).
     */
    public record Usage(double wallMs, Double cpuMs, Long peakMemoryBytes) {
        public static final Usage NONE = new Usage(0, null, null);
    }
}
