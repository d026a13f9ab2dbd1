package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;

/** One line from the kernel driver, stamped when the service received it. */
public record KernelMessage(String type, JsonNode body, Instant received) {

    public static final String END_OF_STREAM = "#eof";

    public boolean endOfStream() {
        return END_OF_STREAM.equals(type);
    }
}
