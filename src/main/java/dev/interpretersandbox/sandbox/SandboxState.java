package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where a sandbox is in its life. {@link Sandbox#transition} is the only place that changes it,
 * and it refuses every move not in {@link #next}. The wire shows the same names, but for the two
 * internal states: PAUSING shows as busy, and a DELETED sandbox is never shown (404 or 410).
 */
public enum SandboxState {
    /** No kernel runs; the next execution starts one. */
    STOPPED,
    /** A kernel is being started or restored. */
    STARTING,
    IDLE,
    /** An execution runs (or is still delivering its output to its client). */
    BUSY,
    /** Being checkpointed to disk. */
    PAUSING,
    /** Checkpointed to disk (variables and files kept, no memory held); the next call restores it. */
    PAUSED,
    /** The last start failed; GET / answers 503 until a start succeeds. */
    BROKEN,
    /** Deleted: no job, transfer or kernel start is accepted any more. Final. */
    DELETED;

    private static final Map<SandboxState, Set<SandboxState>> NEXT = new EnumMap<>(SandboxState.class);

    static {
        NEXT.put(STOPPED, EnumSet.of(STARTING, DELETED));
        NEXT.put(STARTING, EnumSet.of(IDLE, BROKEN, STOPPED, DELETED));
        NEXT.put(IDLE, EnumSet.of(BUSY, PAUSING, STOPPED, DELETED));
        NEXT.put(BUSY, EnumSet.of(IDLE, STOPPED, DELETED));
        NEXT.put(PAUSING, EnumSet.of(PAUSED, IDLE, STOPPED, DELETED));
        NEXT.put(PAUSED, EnumSet.of(STARTING, STOPPED, DELETED));
        NEXT.put(BROKEN, EnumSet.of(STARTING, STOPPED, DELETED));
        NEXT.put(DELETED, EnumSet.noneOf(SandboxState.class));
    }

    /** The states this one may move to. */
    public Set<SandboxState> next() {
        return NEXT.get(this);
    }

    @JsonValue
    public String json() {
        return switch (this) {
            case PAUSING -> "busy";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }
}
