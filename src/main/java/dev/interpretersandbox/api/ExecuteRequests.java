package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import java.time.Duration;

/** Validates POST /execute bodies; every client mistake is INVALID (400) with a clear message. */
final class ExecuteRequests {

    /** A validated request. */
    record ExecuteRequest(String code, Duration timeout) {}

    private final StrictJson json;
    private final SandboxConfig.Execute config;

    ExecuteRequests(StrictJson json, SandboxConfig.Execute config) {
        this.json = json;
        this.config = config;
    }

    ExecuteRequest parse(byte[] bytes) {
        JsonNode node = json.read(bytes);
        if (node == null) {
            throw SandboxException.invalid("the request body is empty; send {\"code\": \"...\"}");
        }
        if (!node.isObject()) {
            throw SandboxException.invalid("the request body must be a JSON object like {\"code\": \"...\"}");
        }
        JsonNode code = node.get("code");
        if (code == null || code.isNull()) {
            throw SandboxException.invalid("\"code\" is required");
        }
        if (!code.isTextual()) {
            throw SandboxException.invalid("\"code\" must be a string");
        }
        return new ExecuteRequest(code.asText(), timeout(node.get("timeout_secs")));
    }

    private Duration timeout(JsonNode value) {
        if (value == null || value.isNull()) {
            return config.defaultTimeout();
        }
        if (!value.isNumber()) {
            throw SandboxException.invalid("\"timeout_secs\" must be a number of seconds");
        }
        double seconds = value.asDouble();
        Duration max = config.maxTimeout();
        if (!(seconds > 0) || Double.isInfinite(seconds)) {
            throw SandboxException.invalid("\"timeout_secs\" must be greater than 0");
        }
        if (seconds > max.toMillis() / 1000.0) {
            throw SandboxException.invalid("\"timeout_secs\" must be at most " + max.toSeconds());
        }
        return Duration.ofNanos((long) (seconds * 1_000_000_000L));
    }
}
