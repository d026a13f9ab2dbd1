package dev.interpretersandbox.sandbox;

import java.time.Duration;
import java.util.Map;

/**
 * What to run: the code, and how long it may run once the kernel has it (kernel start excluded).
 * With coalesce, consecutive output of one stream becomes one event (the plain JSON response);
 * without it each piece is passed on as it arrives (streaming). env holds variables for this
 * execution only, context the code context whose namespace it runs in (null: the main one).
 */
public record ExecutionRequest(
        String code, Duration timeout, boolean coalesce, Map<String, String> env, String context) {

    public ExecutionRequest {
        env = Map.copyOf(env);
    }

    public ExecutionRequest(String code, Duration timeout, boolean coalesce) {
        this(code, timeout, coalesce, Map.of(), null);
    }
}
