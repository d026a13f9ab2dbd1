package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.kernel.Event;
import java.util.List;

/**
 * What one execution produced: status {@code ok}, {@code timeout} or {@code error}, and its events.
 * {@code cancelled} (the caller went away) is never sent to anyone; metrics and logs see it.
 */
public record ExecutionResult(String status, List<Event> events) {
    public static final String OK = "ok";
    public static final String TIMEOUT = "timeout";
    public static final String ERROR = "error";
    public static final String CANCELLED = "cancelled";
}
