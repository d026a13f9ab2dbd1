package dev.interpretersandbox.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import java.io.IOException;
import java.time.Duration;

/** Validates POST /execute bodies; every client mistake is a {@link ServiceException} with a 4xx. */
final class ExecuteRequests {

    /** A validated request. */
    record ExecuteRequest(String code, Duration timeout) {}

    private final ObjectMapper mapper;
    private final SandboxConfig.Execute config;

    ExecuteRequests(ObjectMapper mapper, SandboxConfig.Execute config) {
        this.mapper = mapper;
        this.config = config;
    }

    ExecuteRequest parse(byte[] bytes) {
        if (bytes.length == 0) {
            throw new ServiceException(400, "the request body is empty; send {\"code\": \"...\"}");
        }
        JsonNode node;
        try {
            node = mapper.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new ServiceException(400, "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ServiceException(400, "the request body cannot be read: " + e.getMessage());
        }
        if (node == null || !node.isObject()) {
            throw new ServiceException(400, "the request body must be a JSON object like {\"code\": \"...\"}");
        }
        JsonNode code = node.get("code");
        if (code == null || code.isNull()) {
            throw new ServiceException(400, "\"code\" is required");
        }
        if (!code.isTextual()) {
            throw new ServiceException(400, "\"code\" must be a string");
        }
        return new ExecuteRequest(code.asText(), timeout(node.get("timeout_secs")));
    }

    private Duration timeout(JsonNode value) {
        if (value == null || value.isNull()) {
            return config.defaultTimeout();
        }
        if (!value.isNumber()) {
            throw new ServiceException(400, "\"timeout_secs\" must be a number of seconds");
        }
        double seconds = value.asDouble();
        Duration max = config.maxTimeout();
        if (!(seconds > 0) || Double.isInfinite(seconds)) {
            throw new ServiceException(400, "\"timeout_secs\" must be greater than 0");
        }
        if (seconds > max.toMillis() / 1000.0) {
            throw new ServiceException(400, "\"timeout_secs\" must be at most " + max.toSeconds());
        }
        return Duration.ofNanos((long) (seconds * 1_000_000_000L));
    }
}
