package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ExpiryPolicyTest {

    private final ExpiryPolicy policy =
            new ExpiryPolicy(Duration.ofHours(24), Duration.ofHours(4), Duration.ofHours(1));
    private final Instant t0 = Instant.parse("2026-01-01T00:00:00Z");

    private ExpiryPolicy.Clocks clocks(Instant lastActivity, Duration busy, Instant pausedAt, boolean pausable) {
        return new ExpiryPolicy.Clocks(t0, lastActivity, busy, Duration.ofMinutes(10), pausedAt, pausable);
    }

    @Test
    void idleAfterTheIdleTimeout() {
        var clocks = clocks(t0, Duration.ZERO, null, false);
        assertTrue(policy.check(clocks, t0.plusSeconds(599)).isEmpty());
        assertEquals(
                ExpiryPolicy.Reason.IDLE,
                policy.check(clocks, t0.plusSeconds(600)).orElseThrow().reason());
        assertEquals(t0.plusSeconds(600), policy.expiresAt(clocks));
        assertEquals(
                t0.plusSeconds(600 + 3600),
                policy.expiresAt(clocks(t0, Duration.ZERO, null, true)),
                "then kept paused");
    }

    @Test
    void aPausedSandboxCountsFromItsPause() {
        Instant paused = t0.plusSeconds(600);
        var clocks = clocks(t0, Duration.ZERO, paused, true);
        assertTrue(policy.check(clocks, paused.plusSeconds(3599)).isEmpty(), "its idle time no longer counts");
        assertEquals(
                ExpiryPolicy.Reason.PAUSED_TOO_LONG,
                policy.check(clocks, paused.plusSeconds(3600)).orElseThrow().reason());
    }

    @Test
    void lifetimeAndBusyTimeWhateverTheActivity() {
        Instant now = t0.plus(Duration.ofHours(24));
        assertEquals(
                ExpiryPolicy.Reason.LIFETIME,
                policy.check(clocks(now, Duration.ZERO, null, false), now)
                        .orElseThrow()
                        .reason());
        assertEquals(
                ExpiryPolicy.Reason.BUSY_TIME,
                policy.check(clocks(t0.plusSeconds(60), Duration.ofHours(4), null, false), t0.plusSeconds(60))
                        .orElseThrow()
                        .reason());
    }
}
