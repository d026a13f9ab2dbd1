package dev.interpretersandbox.sandbox;

import java.time.Duration;
import java.time.Instant;

/** A sandbox as its clients see it, read at one moment. */
public record SandboxView(
        String id,
        SandboxState state,
        SandboxSpec spec,
        Instant createdAt,
        Instant lastActivity,
        Instant expiresAt,
        String kernel,
        Duration busy,
        String startFailure) {}
