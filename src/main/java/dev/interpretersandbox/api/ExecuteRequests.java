package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.WorkspacePath;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Validates POST /execute and POST /commands bodies; every client mistake is INVALID (400) with a
 * clear message.
 */
final class ExecuteRequests {

    /** A validated request. */
    record ExecuteRequest(String code, Duration timeout) {}

    /** A validated command: what bash runs, where (below /mnt/data), extra environment, timeout. */
    record CommandRequest(String cmd, WorkspacePath cwd, Map<String, String> env, Duration timeout) {}

    private static final int MAX_COMMAND_CHARS = 64 * 1024;

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

    /** {"cmd": "...", "cwd": "/mnt/data/...", "env": {...}, "timeout_secs": n}; only cmd is required. */
    CommandRequest parseCommand(byte[] bytes) {
        JsonNode node = json.read(bytes);
        if (node == null || !node.isObject()) {
            throw SandboxException.invalid("the request body must be a JSON object like {\"cmd\": \"ls -la\"}");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!Set.of("cmd", "cwd", "env", "timeout_secs").contains(field)) {
                throw SandboxException.invalid("unknown field \"" + field + "\" (cmd, cwd, env, timeout_secs)");
            }
        }
        JsonNode cmd = node.get("cmd");
        if (cmd == null || !cmd.isTextual() || cmd.asText().isBlank()) {
            throw SandboxException.invalid("\"cmd\" is required: a non-empty string that bash runs");
        }
        if (cmd.asText().length() > MAX_COMMAND_CHARS || cmd.asText().indexOf('\0') >= 0) {
            throw SandboxException.invalid("\"cmd\" must be at most 64 KiB, without NUL characters");
        }
        JsonNode cwd = node.get("cwd");
        WorkspacePath directory;
        if (cwd == null || cwd.isNull()) {
            directory = WorkspacePath.parse(WorkspacePath.MOUNT);
        } else if (!cwd.isTextual()) {
            throw SandboxException.invalid("\"cwd\" must be a path under " + WorkspacePath.MOUNT);
        } else {
            directory = WorkspacePath.parse(cwd.asText());
        }
        return new CommandRequest(
                cmd.asText(),
                directory,
                SandboxRequests.environment(node.path("env"), "env"),
                timeout(node.get("timeout_secs")));
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
