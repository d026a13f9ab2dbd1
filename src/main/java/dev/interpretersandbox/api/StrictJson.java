package dev.interpretersandbox.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.interpretersandbox.error.SandboxException;
import java.io.IOException;

/**
 * Request bodies are read strictly: a duplicate key (which of the two would win?), anything after
 * the value, and nesting deeper than any request needs are refused with a 400, like other
 * malformed JSON. Thread-safe.
 */
public final class StrictJson {

    private static final int MAX_DEPTH = 32;

    private final ObjectReader reader;

    public StrictJson(ObjectMapper mapper) {
        ObjectMapper strict = mapper.copy();
        strict.getFactory()
                .setStreamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(MAX_DEPTH)
                        .build());
        this.reader = strict.reader()
                .with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    }

    /** The body as a tree; INVALID (400) when it is not one JSON value, strictly. Null for no body. */
    public JsonNode read(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            return reader.readTree(body);
        } catch (JsonProcessingException e) {
            throw SandboxException.invalid("the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw SandboxException.invalid("the request body cannot be read: " + e.getMessage());
        }
    }

    /** Whether a number has no fractional part (1e9 is an integer, 1.5 is not). */
    static boolean integral(JsonNode value) {
        return value.isIntegralNumber() || (value.isFloatingPointNumber() && value.canConvertToExactIntegral());
    }
}
