package dev.interpretersandbox.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.sandbox.SandboxSpec;
import java.io.IOException;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Validates POST /sandboxes bodies: {@code {"limits": {"memory_bytes", "cpus", "pids",
 * "workspace_bytes"}, "env": {...}, "idle_timeout_secs": n}}, everything optional, limits within
 * sandbox.sandboxes.max-limits. Every mistake is a 400 naming the field.
 */
final class SandboxRequests {

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
    // What the kernel needs to be the kernel: a client cannot point it elsewhere.
    private static final Set<String> RESERVED = Set.of(
            "PATH", "HOME", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "LD_PRELOAD", "LD_LIBRARY_PATH", "MPLBACKEND");
    private static final int MAX_ENV = 100;
    private static final int MAX_ENV_VALUE = 32 * 1024;

    private final ObjectMapper mapper;
    private final SandboxConfig config;

    SandboxRequests(ObjectMapper mapper, SandboxConfig config) {
        this.mapper = mapper;
        this.config = config;
    }

    SandboxSpec parse(byte[] body) {
        SandboxSpec defaults = SandboxSpec.defaults(config);
        if (body == null || body.length == 0) {
            return defaults;
        }
        JsonNode node;
        try {
            node = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw new ServiceException(400, "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ServiceException(400, "the request body cannot be read: " + e.getMessage());
        }
        if (node == null || node.isNull()) {
            return defaults;
        }
        if (!node.isObject()) {
            throw new ServiceException(400, "the request body must be a JSON object");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!Set.of("limits", "env", "idle_timeout_secs").contains(field)) {
                throw new ServiceException(400, "unknown field \"" + field + "\" (limits, env, idle_timeout_secs)");
            }
        }
        return new SandboxSpec(
                limits(node.path("limits"), defaults.limits()),
                env(node.path("env")),
                idle(node.get("idle_timeout_secs"), defaults.idleTimeout()));
    }

    private KernelLimits limits(JsonNode limits, KernelLimits defaults) {
        if (limits.isMissingNode() || limits.isNull()) {
            return defaults;
        }
        if (!limits.isObject()) {
            throw new ServiceException(400, "\"limits\" must be an object");
        }
        SandboxConfig.MaxLimits max = config.sandboxes().maxLimits();
        for (Iterator<String> it = limits.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!Set.of("memory_bytes", "cpus", "pids", "workspace_bytes").contains(field)) {
                throw new ServiceException(
                        400, "unknown limit \"" + field + "\" (memory_bytes, cpus, pids, workspace_bytes)");
            }
        }
        // Below 128 MiB, IPython's start-up no longer fits its address-space limit (85 % of it).
        long memory = (long) number(
                limits,
                "memory_bytes",
                defaults.memoryBytes(),
                128L << 20,
                max.memory().asLongValue(),
                true);
        double cpus = number(limits, "cpus", defaults.cpus(), 0.05, max.cpus(), false);
        int pids = (int) number(limits, "pids", defaults.pids(), 32, max.pids(), true);
        long workspace = (long) number(
                limits,
                "workspace_bytes",
                defaults.workspaceBytes(),
                1L << 20,
                max.workspaceSize().asLongValue(),
                true);
        return new KernelLimits(memory, cpus, pids, workspace);
    }

    private static double number(
            JsonNode limits, String field, double fallback, double min, double max, boolean integral) {
        JsonNode value = limits.get(field);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isNumber() || (integral && !value.canConvertToLong())) {
            throw new ServiceException(
                    400, "\"limits." + field + "\" must be " + (integral ? "an integer" : "a number"));
        }
        double n = value.asDouble();
        if (n < min || n > max) {
            boolean bytes = field.endsWith("_bytes");
            throw new ServiceException(
                    400,
                    "\"limits." + field + "\" must be between " + (bytes ? Sizes.human((long) min) : fmt(min)) + " and "
                            + (bytes ? Sizes.human((long) max) : fmt(max)));
        }
        return n;
    }

    private static String fmt(double n) {
        return n == Math.rint(n) ? Long.toString((long) n) : Double.toString(n);
    }

    private static Map<String, String> env(JsonNode env) {
        if (env.isMissingNode() || env.isNull()) {
            return Map.of();
        }
        if (!env.isObject()) {
            throw new ServiceException(400, "\"env\" must be an object of strings");
        }
        if (env.size() > MAX_ENV) {
            throw new ServiceException(400, "\"env\" has more than " + MAX_ENV + " variables");
        }
        Map<String, String> out = new LinkedHashMap<>();
        env.fields().forEachRemaining(e -> {
            if (!ENV_NAME.matcher(e.getKey()).matches()) {
                throw new ServiceException(400, "invalid environment variable name \"" + e.getKey() + "\"");
            }
            if (RESERVED.contains(e.getKey())) {
                throw new ServiceException(400, "environment variable " + e.getKey() + " is set by the sandbox");
            }
            if (!e.getValue().isTextual()
                    || e.getValue().asText().length() > MAX_ENV_VALUE
                    || e.getValue().asText().indexOf('\0') >= 0) {
                throw new ServiceException(
                        400, "environment variable " + e.getKey() + " must be a string without NUL, at most 32 KiB");
            }
            out.put(e.getKey(), e.getValue().asText());
        });
        return out;
    }

    private Duration idle(JsonNode value, Duration fallback) {
        if (value == null || value.isNull()) {
            return fallback;
        }
        Duration max = config.sandboxes().maxLimits().idleTimeout();
        if (!value.isNumber() || !(value.asDouble() >= 1) || value.asDouble() > max.toSeconds()) {
            throw new ServiceException(400, "\"idle_timeout_secs\" must be a number from 1 to " + max.toSeconds());
        }
        return Duration.ofMillis((long) (value.asDouble() * 1000));
    }
}
