package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.api.SandboxRequests;
import dev.interpretersandbox.api.StrictJson;
import dev.interpretersandbox.auth.AccessTokens;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxSpec;
import dev.interpretersandbox.sandbox.SandboxState;
import dev.interpretersandbox.sandbox.SandboxView;
import dev.interpretersandbox.sandbox.Workers;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;

/**
 * E2B's control plane, on the sandbox service: create (a warm-pool member when the request allows),
 * kill, set_timeout, connect, list with filters and paging, pause, and the sandbox's details.
 *
 * <p>E2B's timeout becomes the sandbox's idle timeout: E2B removes a sandbox timeout seconds after
 * it was created or last given a timeout; here the clock also restarts with each use, so an idle
 * sandbox ends as it would on E2B and a busy one is not cut off. autoPause=false (E2B's default)
 * removes it at the timeout; true pauses it, when the service pauses at all.
 */
@ApplicationScoped
class ControlPlane {

    /** What E2B's SDKs pass for the default template; both run this service's one kernel. */
    static final Set<String> TEMPLATES = Set.of("code-interpreter-v1", "code-interpreter", "base");

    private static final int MAX_METADATA = 50;
    private static final int MAX_PAGE = 100;
    /** Create fields this server cannot honour when they ask for more than it gives. */
    private static final Set<String> KNOWN = Set.of(
            "templateID",
            "timeout",
            "autoPause",
            "autoPauseMemory",
            "autoResume",
            "secure",
            "allow_internet_access",
            "network",
            "metadata",
            "envVars",
            "mcp",
            "volumeMounts",
            "iam");

    private final SandboxService sandboxes;
    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final StrictJson json;
    private final SandboxRequests requests;

    private final Workers workers;

    ControlPlane(SandboxService sandboxes, SandboxConfig config, ObjectMapper mapper, Workers workers) {
        this.workers = workers;
        this.sandboxes = sandboxes;
        this.config = config;
        this.mapper = mapper;
        this.json = new StrictJson(mapper);
        this.requests = new SandboxRequests(json, config);
    }

    void handle(RoutingContext ctx, String path, E2bReply reply) {
        HttpMethod method = ctx.request().method();
        if (path.equals("/sandboxes") || path.equals("/v2/sandboxes")) {
            if (method.equals(HttpMethod.POST)) {
                body(ctx, reply, body -> create(body, reply));
            } else if (method.equals(HttpMethod.GET)) {
                list(ctx, reply);
            } else {
                reply.error(405, "use GET or POST on " + path);
            }
            return;
        }
        Optional<E2bRoutes.Target> target = E2bRoutes.Target.of(path);
        if (target.isEmpty()) {
            reply.error(404, "no such endpoint: " + method + " " + path);
            return;
        }
        String id = target.get().id();
        String rest = target.get().rest();
        Optional<Sandbox> found = sandboxes.find(id).filter(sandbox -> !id.equals(SandboxService.DEFAULT));
        if (found.isEmpty()) {
            reply.error(404, "sandbox " + id + " not found");
            return;
        }
        Sandbox sandbox = found.get();
        switch (method.name() + " " + rest) {
            case "GET " -> reply.json(200, detail(sandbox));
            case "DELETE " -> reply.after(sandboxes.delete(id), ignored -> reply.noContent());
            case "POST /timeout" ->
                body(ctx, reply, body -> {
                    sandbox.idleTimeout(timeout(read(body).get("timeout"), true).orElseThrow());
                    reply.noContent();
                });
            case "POST /connect", "POST /resume" -> body(ctx, reply, body -> connect(sandbox, read(body), reply));
            case "POST /pause" ->
                reply.after(sandbox.pause(), paused -> {
                    if (paused) {
                        reply.noContent();
                    } else {
                        reply.error(
                                409,
                                "sandbox " + id + " cannot be paused now: it is busy, has no kernel running,"
                                        + " or pausing is off on this server");
                    }
                });
            default -> reply.error(404, "no such endpoint: " + method + " " + path);
        }
    }

    private void create(byte[] body, E2bReply reply) {
        JsonNode request = read(body);
        String template = request.path("templateID").asText("");
        if (!TEMPLATES.contains(template)) {
            throw SandboxException.invalid("unknown template '" + template + "': this server runs "
                    + String.join(", ", new TreeSet<>(TEMPLATES)) + " (all the same Python kernel)");
        }
        for (Iterator<String> it = request.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!KNOWN.contains(field)) {
                throw SandboxException.invalid("unknown field \"" + field + "\"");
            }
        }
        if (request.path("allow_internet_access").asBoolean(false) || nonEmpty(request.get("network"))) {
            throw SandboxException.invalid(
                    "sandboxes on this server have no network: leave out" + " allow_internet_access and network");
        }
        if (nonEmpty(request.get("mcp")) || nonEmpty(request.get("volumeMounts")) || nonEmpty(request.get("iam"))) {
            throw SandboxException.invalid("mcp, volumeMounts and iam are not supported by this server");
        }
        SandboxSpec defaults = SandboxSpec.defaults(config);
        Map<String, String> env = SandboxRequests.environment(request.get("envVars"), "envVars");
        Duration idle = timeout(request.get("timeout"), false).orElse(defaults.idleTimeout());
        Map<String, String> metadata = metadata(request.get("metadata"));
        boolean autoPause = request.path("autoPause").asBoolean(false);
        AccessTokens.Issued access = AccessTokens.issue();
        SandboxSpec spec = new SandboxSpec(defaults.limits(), env, idle, metadata, List.of(access.hash()));
        // off the event loop: a new sandbox's record is written durably (fsync) before its id goes out
        reply.after(
                CompletableFuture.supplyAsync(() -> sandboxes.create(spec), workers.lifecycle())
                        .thenCompose(created -> created),
                sandbox -> {
                    if (!autoPause) {
                        sandbox.neverPause();
                    }
                    reply.json(201, created(sandbox, template, access.token()));
                });
    }

    private void connect(Sandbox sandbox, JsonNode request, E2bReply reply) {
        timeout(request.get("timeout"), false).ifPresent(sandbox::idleTimeout);
        boolean paused = sandbox.state() == SandboxState.PAUSED;
        AccessTokens.Issued access = AccessTokens.issue(); // only hashes are kept: each client gets its own
        reply.after(
                CompletableFuture.runAsync(() -> sandbox.addAccessToken(access.hash()), workers.lifecycle())
                        .thenCompose(ignored -> sandbox.wake()),
                ignored -> reply.json(paused ? 201 : 200, created(sandbox, "code-interpreter-v1", access.token())));
    }

    private Map<String, Object> created(Sandbox sandbox, String template, String token) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("templateID", template);
        body.put("sandboxID", sandbox.id());
        body.put("alias", template);
        body.put("clientID", "self-hosted");
        body.put("envdVersion", config.e2b().envdVersion());
        body.put("envdAccessToken", token);
        // The same token: the SDK sends this one to /contexts, where it sends no other.
        body.put("trafficAccessToken", token);
        body.put("domain", null);
        return body;
    }

    private Map<String, Object> listed(Sandbox sandbox) {
        SandboxView view = sandbox.view();
        Map<String, Object> item = new LinkedHashMap<>();
        item.put("templateID", "code-interpreter-v1");
        item.put("alias", "code-interpreter-v1");
        item.put("sandboxID", view.id());
        item.put("clientID", "self-hosted");
        item.put("startedAt", view.createdAt().toString());
        item.put("endAt", view.expiresAt().toString());
        item.put("cpuCount", (int) Math.max(1, Math.ceil(view.spec().limits().cpus())));
        item.put("memoryMB", view.spec().limits().memoryBytes() >> 20);
        item.put("diskSizeMB", view.spec().limits().workspaceBytes() >> 20);
        item.put("metadata", view.spec().metadata());
        item.put("state", state(view.state()));
        item.put("envdVersion", config.e2b().envdVersion());
        return item;
    }

    private Map<String, Object> detail(Sandbox sandbox) {
        Map<String, Object> item = listed(sandbox);
        item.put("domain", null);
        item.put("allowInternetAccess", false);
        return item;
    }

    private static String state(SandboxState state) {
        return state == SandboxState.PAUSED ? "paused" : "running";
    }

    private void list(RoutingContext ctx, E2bReply reply) {
        Set<String> states = new HashSet<>(List.of("running", "paused"));
        String state = ctx.request().getParam("state");
        if (state != null && !state.isBlank()) {
            states = new HashSet<>(List.of(state.split(",")));
            for (String one : states) {
                if (!one.equals("running") && !one.equals("paused")) {
                    throw SandboxException.invalid("state must be running, paused or both (comma-separated)");
                }
            }
        }
        Map<String, String> wanted = metadataQuery(ctx.request().getParam("metadata"));
        int limit = MAX_PAGE;
        String limitParam = ctx.request().getParam("limit");
        if (limitParam != null) {
            try {
                limit = Integer.parseInt(limitParam);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_PAGE) {
                throw SandboxException.invalid("limit must be a number from 1 to " + MAX_PAGE);
            }
        }
        String after = ctx.request().getParam("nextToken");
        List<Map<String, Object>> page = new ArrayList<>();
        boolean started = after == null || after.isEmpty();
        String next = null;
        for (Sandbox sandbox : sandboxes.list()) {
            if (sandbox.id().equals(SandboxService.DEFAULT)) {
                continue;
            }
            if (!started) {
                started = sandbox.id().equals(after);
                continue;
            }
            Map<String, Object> item = listed(sandbox);
            if (!states.contains((String) item.get("state"))
                    || !sandbox.spec().metadata().entrySet().containsAll(wanted.entrySet())) {
                continue;
            }
            if (page.size() == limit) {
                next = (String) page.get(page.size() - 1).get("sandboxID");
                break;
            }
            page.add(item);
        }
        String token = next;
        reply.run(() -> {
            if (token != null) {
                ctx.response().putHeader("x-next-token", token);
            }
        });
        reply.json(200, page);
    }

    /**
     * The SDK sends metadata=k%3Dv, a query string of its own whose keys and values were
     * URL-encoded first: Vert.x undid the outer encoding, this undoes the inner one.
     */
    private static Map<String, String> metadataQuery(String raw) {
        Map<String, String> wanted = new LinkedHashMap<>();
        if (raw == null || raw.isBlank()) {
            return wanted;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw SandboxException.invalid("metadata must look like key=value&key2=value2");
            }
            wanted.put(decode(decode(pair.substring(0, eq))), decode(decode(pair.substring(eq + 1))));
        }
        return wanted;
    }

    private static String decode(String text) {
        try {
            return URLDecoder.decode(text, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw SandboxException.invalid("metadata is not URL-encoded correctly");
        }
    }

    private static Map<String, String> metadata(JsonNode node) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject() || node.size() > MAX_METADATA) {
            throw SandboxException.invalid("metadata must be an object of at most " + MAX_METADATA + " strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual()
                    || e.getKey().length() > 256
                    || e.getValue().asText().length() > 1024) {
                throw SandboxException.invalid(
                        "metadata values must be strings (keys up to 256 characters, values up to 1024)");
            }
            out.put(e.getKey(), e.getValue().asText());
        });
        return out;
    }

    /** E2B's timeout in whole seconds, within this server's maximum idle timeout. */
    private Optional<Duration> timeout(JsonNode value, boolean required) {
        if (value == null || value.isNull()) {
            if (required) {
                throw SandboxException.invalid("\"timeout\" is required: seconds from now");
            }
            return Optional.empty();
        }
        Duration max = config.sandboxes().maxLimits().idleTimeout();
        if (!value.canConvertToLong() || value.asLong() < 1 || value.asLong() > max.toSeconds()) {
            throw SandboxException.invalid("\"timeout\" must be whole seconds from 1 to " + max.toSeconds());
        }
        return Optional.of(Duration.ofSeconds(value.asLong()));
    }

    private static boolean nonEmpty(JsonNode node) {
        return node != null && !node.isNull() && !(node.isContainerNode() && node.isEmpty());
    }

    private JsonNode read(byte[] body) {
        JsonNode node = body.length == 0 ? null : json.read(body);
        if (node == null) {
            return mapper.createObjectNode();
        }
        if (!node.isObject()) {
            throw SandboxException.invalid("the request body must be a JSON object");
        }
        return node;
    }

    /** Reads a small JSON body, then runs handler (its exceptions become the reply). */
    private void body(RoutingContext ctx, E2bReply reply, E2bReply.BodyHandler handler) {
        reply.body(config.http().maxJsonBody().asLongValue(), handler);
    }
}
