package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelLimits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a sandbox is made of: its limits, extra environment for its kernel, its idle timeout, the
 * labels its creator gave it (E2B's metadata), and the hashes of its own access tokens (none for
 * the default sandbox and pool members, which only the admin token opens; E2B's connect issues
 * one more to each client that connects, so the first one's keeps working).
 */
public record SandboxSpec(
        KernelLimits limits,
        Map<String, String> env,
        Duration idleTimeout,
        Map<String, String> metadata,
        List<String> accessTokenHashes) {

    /** Access tokens a sandbox keeps at most (one per E2B connect). */
    public static final int MAX_TOKENS = 32;

    public SandboxSpec {
        env = Map.copyOf(env);
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        accessTokenHashes = accessTokenHashes == null ? List.of() : List.copyOf(accessTokenHashes);
    }

    public SandboxSpec(KernelLimits limits, Map<String, String> env, Duration idleTimeout) {
        this(limits, env, idleTimeout, Map.of(), List.of());
    }

    /** The service defaults (the default sandbox, warm-pool members). */
    public static SandboxSpec defaults(SandboxConfig config) {
        return new SandboxSpec(KernelLimits.defaults(config), Map.of(), config.idleTimeout());
    }

    public SandboxSpec withIdleTimeout(Duration timeout) {
        return new SandboxSpec(limits, env, timeout, metadata, accessTokenHashes);
    }

    /** With these labels and a first access token. */
    public SandboxSpec withAccess(Map<String, String> labels, String tokenHash) {
        return new SandboxSpec(limits, env, idleTimeout, labels, List.of(tokenHash));
    }

    /** With one more access token; past {@link #MAX_TOKENS}, the oldest one stops working. */
    public SandboxSpec withAnotherToken(String tokenHash) {
        List<String> hashes = new ArrayList<>(accessTokenHashes);
        hashes.add(tokenHash);
        while (hashes.size() > MAX_TOKENS) {
            hashes.remove(0);
        }
        return new SandboxSpec(limits, env, idleTimeout, metadata, hashes);
    }
}
