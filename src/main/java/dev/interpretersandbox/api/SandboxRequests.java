package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.sandbox.SandboxSpec;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Validates POST /sandboxes bodies: {@code {"limits": {"memory_bytes", "cpus", "pids",
 * "workspace_bytes"}, "env": {...}, "idle_timeout_secs": n}}, everything optional, limits within
 * sandbox.sandboxes.max-limits. Every mistake is a 400 naming the field.
 */
public final class SandboxRequests {

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
    /**
     * What the kernel needs to be the kernel, and what changes how the dynamic loader, libc or
     * Python load code: a client cannot point them elsewhere. Names are compared case-sensitively,
     * as the loader does; the prefixes cover whole families (LD_AUDIT, MALLOC_CHECK_, ...).
     */
    private static final Set<String> RESERVED = Set.of(
            "PATH",
            "HOME",
            "USER",
            "SHELL",
            "TMPDIR",
            "MPLBACKEND",
            "MPLCONFIGDIR",
            "IPYTHONDIR",
            "GCONV_PATH",
            "GETCONF_DIR",
            "GLIBC_TUNABLES",
            "HOSTALIASES",
            "LOCALDOMAIN",
            "LOCPATH",
            "NIS_PATH",
            "NLSPATH",
            "RESOLV_HOST_CONF",
            "RES_OPTIONS",
            "TZDIR");

    private static final List<String> RESERVED_PREFIXES = List.of("LD_", "MALLOC_", "PYTHON", "XDG_");
    private static final int MAX_ENV = 100;
    private static final int MAX_ENV_VALUE = 32 * 1024;

    private final StrictJson json;
    private final SandboxConfig config;

    public SandboxRequests(StrictJson json, SandboxConfig config) {
        this.json = json;
        this.config = config;
    }

    public SandboxSpec parse(byte[] body) {
        SandboxSpec defaults = SandboxSpec.defaults(config);
        JsonNode node = json.read(body);
        if (node == null || node.isNull()) {
            return defaults;
        }
        if (!node.isObject()) {
            throw SandboxException.invalid("the request body must be a JSON object");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!Set.of("limits", "env", "idle_timeout_secs").contains(field)) {
                throw SandboxException.invalid("unknown field \"" + field + "\" (limits, env, idle_timeout_secs)");
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
            throw SandboxException.invalid("\"limits\" must be an object");
        }
        SandboxConfig.MaxLimits max = config.sandboxes().maxLimits();
        for (Iterator<String> it = limits.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!Set.of("memory_bytes", "cpus", "pids", "workspace_bytes").contains(field)) {
                throw SandboxException.invalid(
                        "unknown limit \"" + field + "\" (memory_bytes, cpus, pids, workspace_bytes)");
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
        if (!value.isNumber() || (integral && !StrictJson.integral(value))) {
            throw SandboxException.invalid(
                    "\"limits." + field + "\" must be " + (integral ? "an integer" : "a number"));
        }
        double n = value.asDouble();
        if (n < min || n > max) {
            boolean bytes = field.endsWith("_bytes");
            throw SandboxException.invalid(
                    "\"limits." + field + "\" must be between " + (bytes ? Sizes.human((long) min) : fmt(min)) + " and "
                            + (bytes ? Sizes.human((long) max) : fmt(max)));
        }
        return n;
    }

    private static String fmt(double n) {
        return n == Math.rint(n) ? Long.toString((long) n) : Double.toString(n);
    }

    private static Map<String, String> env(JsonNode env) {
        return environment(env, "env");
    }

    /**
     * Environment variables a client may set (POST /sandboxes "env", a command's "env", E2B's
     * envVars and env_vars): names of letters, digits and _, nothing the sandbox sets itself or
     * that changes how code is loaded, string values without NUL. field names the field in errors.
     */
    public static Map<String, String> environment(JsonNode env, String field) {
        if (env == null || env.isMissingNode() || env.isNull()) {
            return Map.of();
        }
        if (!env.isObject()) {
            throw SandboxException.invalid("\"" + field + "\" must be an object of strings");
        }
        if (env.size() > MAX_ENV) {
            throw SandboxException.invalid("\"" + field + "\" has more than " + MAX_ENV + " variables");
        }
        Map<String, String> out = new LinkedHashMap<>();
        env.fields().forEachRemaining(e -> {
            if (!ENV_NAME.matcher(e.getKey()).matches()) {
                throw SandboxException.invalid("invalid environment variable name \"" + e.getKey() + "\"");
            }
            if (RESERVED.contains(e.getKey()) || RESERVED_PREFIXES.stream().anyMatch(e.getKey()::startsWith)) {
                throw SandboxException.invalid("environment variable " + e.getKey() + " is set by the sandbox");
            }
            if (!e.getValue().isTextual()
                    || e.getValue().asText().length() > MAX_ENV_VALUE
                    || e.getValue().asText().indexOf('\0') >= 0) {
                throw SandboxException.invalid(
                        "environment variable " + e.getKey() + " must be a string without NUL, at most 32 KiB");
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
            throw SandboxException.invalid("\"idle_timeout_secs\" must be a number from 1 to " + max.toSeconds());
        }
        return Duration.ofMillis((long) (value.asDouble() * 1000));
    }
}
