package dev.interpretersandbox.sandbox;

import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The threads sandboxes work on. Nothing waits on them for a kernel: an execution in progress is
 * driven by its kernel's reader thread and by timers.
 *
 * @param execution short work of an execution: scanning the workspace, sending the code, usage
 * @param lifecycle slow work: starting, restoring, pausing and tearing down kernels
 * @param timers timeouts and grace periods (tasks only hand work on to the other two)
 */
public record Workers(Executor execution, Executor lifecycle, ScheduledExecutorService timers) {}
