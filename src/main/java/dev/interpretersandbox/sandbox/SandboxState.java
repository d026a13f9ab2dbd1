package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Where a sandbox is in its life, as GET / reports it. */
public enum SandboxState {
    /** No kernel runs; the next execution starts one. */
    STOPPED,
    STARTING,
    IDLE,
    BUSY,
    /** Checkpointed to disk by the reaper (variables and files kept, no memory held); the next call restores it. */
    PAUSED,
    /** The last start failed; GET / answers 503 until a start succeeds. */
    BROKEN;

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }
}
