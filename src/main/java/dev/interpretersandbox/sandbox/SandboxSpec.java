package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelLimits;
import java.time.Duration;
import java.util.Map;

/** What a sandbox is made of: its limits, extra environment for its kernel, and its idle timeout. */
public record SandboxSpec(KernelLimits limits, Map<String, String> env, Duration idleTimeout) {

    public SandboxSpec {
        env = Map.copyOf(env);
    }

    /** The service defaults (the default sandbox, warm-pool members). */
    public static SandboxSpec defaults(SandboxConfig config) {
        return new SandboxSpec(KernelLimits.defaults(config), Map.of(), config.idleTimeout());
    }
}
