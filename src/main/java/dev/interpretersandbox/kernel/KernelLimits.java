package dev.interpretersandbox.kernel;

import dev.interpretersandbox.config.SandboxConfig;

/**
 * The limits that differ between sandboxes (POST /sandboxes may choose them within the configured
 * maxima); process count, open files and /tmp size stay service-wide.
 */
public record KernelLimits(long memoryBytes, double cpus, int pids, long workspaceBytes) {

    /** sandbox.limits.*: the default sandbox's limits and the default for new ones. */
    public static KernelLimits defaults(SandboxConfig config) {
        SandboxConfig.Limits limits = config.limits();
        return new KernelLimits(
                limits.memory().asLongValue(),
                limits.cpus(),
                limits.pids(),
                limits.workspaceSize().asLongValue());
    }
}
