package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** One line from the kernel driver (size in bytes), stamped when the service received it. */
public record KernelMessage(String type, JsonNode body, Instant received, int size) {

    public static final String END_OF_STREAM = "#eof";
    /** Not from the driver: {@link KernelChannel#wake()} was called. */
    public static final String WAKE = "#wake";
    /** The driver's own notice that a limit cut output, and ours when a line or the queue overflows. */
    public static final String TRUNCATED = "truncated";

    public boolean endOfStream() {
        return END_OF_STREAM.equals(type);
    }
}
