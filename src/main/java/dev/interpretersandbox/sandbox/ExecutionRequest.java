package dev.interpretersandbox.sandbox;

import java.time.Duration;

/**
 * What to run: the code, and how long it may run once the kernel has it (kernel start excluded).
 * With coalesce, consecutive output of one stream becomes one event (the plain JSON response);
 * without it each piece is passed on as it arrives (streaming).
 */
public record ExecutionRequest(String code, Duration timeout, boolean coalesce) {}
