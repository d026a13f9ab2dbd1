package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * When a sandbox expires and why: a pure function of its clocks and the settings, so the reaper's
 * choices can be tested with any clock.
 */
public final class ExpiryPolicy {

    /** Why the reaper pauses or removes a sandbox. Only IDLE may pause instead of removing. */
    public enum Reason {
        IDLE,
        PAUSED_TOO_LONG,
        LIFETIME,
        BUSY_TIME
    }

    /** A sandbox's expiry: the reason and the sentence the API shows for it. */
    public record Expiry(Reason reason, String message) {}

    /** What the policy looks at. */
    public record Clocks(
            Instant createdAt,
            Instant lastActivity,
            Duration busy,
            Duration idleTimeout,
            Instant pausedAt,
            boolean pausable) {}

    private final Duration maxLifetime;
    private final Duration maxBusy;
    private final Duration pauseKeep;

    public ExpiryPolicy(Duration maxLifetime, Duration maxBusy, Duration pauseKeep) {
        this.maxLifetime = maxLifetime;
        this.maxBusy = maxBusy;
        this.pauseKeep = pauseKeep;
    }

    public static ExpiryPolicy of(SandboxConfig config) {
        return new ExpiryPolicy(
                config.sandboxes().maxLifetime(),
                config.sandboxes().maxBusy(),
                config.sandboxes().pause().keep());
    }

    /** Why the sandbox should be paused or removed at now, if it should. */
    public Optional<Expiry> check(Clocks clocks, Instant now) {
        if (clocks.pausedAt() != null) {
            if (!clocks.pausedAt().plus(pauseKeep).isAfter(now)) {
                return Optional.of(
                        new Expiry(Reason.PAUSED_TOO_LONG, "paused for longer than " + pauseKeep.toSeconds() + " s"));
            }
        } else if (!clocks.lastActivity().plus(clocks.idleTimeout()).isAfter(now)) {
            return Optional.of(new Expiry(
                    Reason.IDLE, "idle for longer than " + clocks.idleTimeout().toSeconds() + " s"));
        }
        return hardLimit(clocks, now);
    }

    /**
     * The limits that end a sandbox even while it is in use (a call running or queued, a command,
     * a transfer), as its user could keep it in use for good: its maximum lifetime and busy time.
     */
    public Optional<Expiry> hardLimit(Clocks clocks, Instant now) {
        if (!clocks.createdAt().plus(maxLifetime).isAfter(now)) {
            return Optional.of(new Expiry(
                    Reason.LIFETIME, "older than its maximum lifetime of " + maxLifetime.toSeconds() + " s"));
        }
        if (clocks.busy().compareTo(maxBusy) >= 0) {
            return Optional.of(
                    new Expiry(Reason.BUSY_TIME, "busy for longer than its maximum of " + maxBusy.toSeconds() + " s"));
        }
        return Optional.empty();
    }

    /**
     * When the reaper will remove it if nothing happens: after the idle timeout (plus the time a
     * paused sandbox is kept, when it would be paused first) or at its maximum lifetime.
     */
    public Instant expiresAt(Clocks clocks) {
        Instant idle = clocks.pausedAt() != null
                ? clocks.pausedAt().plus(pauseKeep)
                : clocks.lastActivity().plus(clocks.idleTimeout()).plus(clocks.pausable() ? pauseKeep : Duration.ZERO);
        Instant lifetime = clocks.createdAt().plus(maxLifetime);
        return idle.isBefore(lifetime) ? idle : lifetime;
    }
}
