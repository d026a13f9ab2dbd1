package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.OutputBudget;
import dev.interpretersandbox.metrics.SandboxMetrics;
import dev.interpretersandbox.registry.RecordStore;
import java.time.Clock;

/** What every sandbox of a service shares: settings, the kernel launcher, threads, clock and caps. */
record SandboxContext(
        SandboxConfig config,
        KernelLauncher launcher,
        SandboxMetrics metrics,
        Workers workers,
        Deadlines deadlines,
        Clock clock,
        Admission admission,
        StateLayout layout,
        OutputBudget budget,
        ExpiryPolicy expiry,
        int kernelUid,
        RecordStore records,
        Draining draining) {}
