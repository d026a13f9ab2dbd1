package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** How an execution ended. CANCELLED (the caller went away) is never sent; metrics and logs see it. */
public enum ExecutionStatus {
    OK,
    TIMEOUT,
    /** The kernel died or was restarted during the execution; an error event says why. */
    ERROR,
    CANCELLED;

    @JsonValue
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }
}
