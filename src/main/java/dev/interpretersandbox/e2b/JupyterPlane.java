package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.api.SandboxRequests;
import dev.interpretersandbox.api.StrictJson;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Execution;
import dev.interpretersandbox.sandbox.ExecutionRequest;
import dev.interpretersandbox.sandbox.Sandbox;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Jupyter side of an E2B sandbox (port 49999): /execute streams an execution as E2B's NDJSON,
 * and /contexts manages code contexts (each its own namespace and working directory in the
 * sandbox's one kernel). A client that disconnects interrupts its cell, as E2B's server does; the
 * SDK's timeouts are its own and only drop the connection.
 */
@ApplicationScoped
class JupyterPlane {

    private static final Pattern CONTEXT = Pattern.compile("^/contexts/([A-Za-z0-9-]{1,64})(/restart)?$");

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final StrictJson json;

    JupyterPlane(SandboxConfig config, ObjectMapper mapper) {
        this.config = config;
        this.mapper = mapper;
        this.json = new StrictJson(mapper);
    }

    boolean handles(String path) {
        return path.equals("/execute") || path.equals("/contexts") || path.startsWith("/contexts/");
    }

    void handle(RoutingContext ctx, Sandbox sandbox, String path, E2bReply reply) {
        HttpMethod method = ctx.request().method();
        if (path.equals("/execute") && method.equals(HttpMethod.POST)) {
            reply.body(config.execute().maxRequestSize().asLongValue(), body -> execute(ctx, sandbox, body, reply));
            return;
        }
        if (path.equals("/contexts")) {
            if (method.equals(HttpMethod.GET)) {
                reply.json(
                        200,
                        sandbox.contexts().stream().map(JupyterPlane::context).toList());
            } else if (method.equals(HttpMethod.POST)) {
                reply.body(config.http().maxJsonBody().asLongValue(), body -> createContext(sandbox, body, reply));
            } else {
                reply.error(405, "use GET or POST on /contexts");
            }
            return;
        }
        Matcher m = CONTEXT.matcher(path);
        if (!m.matches()) {
            reply.error(404, "no such endpoint: " + method + " " + path);
            return;
        }
        String id = m.group(1);
        if (m.group(2) != null && method.equals(HttpMethod.POST)) {
            reply.after(sandbox.restartContext(id), found -> found(found, id, reply));
        } else if (m.group(2) == null && method.equals(HttpMethod.DELETE)) {
            reply.after(sandbox.deleteContext(id), found -> found(found, id, reply));
        } else {
            reply.error(405, "use DELETE /contexts/{id} or POST /contexts/{id}/restart");
        }
    }

    private static void found(boolean found, String id, E2bReply reply) {
        if (found) {
            reply.noContent();
        } else {
            reply.error(404, "context " + id + " not found");
        }
    }

    private static Map<String, Object> context(Sandbox.CodeContext context) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", context.id());
        out.put("language", context.language());
        out.put("cwd", context.cwd());
        return out;
    }

    private void createContext(Sandbox sandbox, byte[] body, E2bReply reply) {
        JsonNode request = object(body);
        language(request.get("language"));
        JsonNode cwd = request.get("cwd");
        String directory = cwd == null || cwd.isNull() ? "/home/user" : cwd.asText();
        if (cwd != null
                && !cwd.isNull()
                && (!cwd.isTextual() || !directory.startsWith("/") || directory.indexOf('\0') >= 0)) {
            throw SandboxException.invalid("\"cwd\" must be an absolute path inside the sandbox");
        }
        reply.after(sandbox.createContext(directory), made -> reply.json(200, context(made)));
    }

    private void execute(RoutingContext ctx, Sandbox sandbox, byte[] body, E2bReply reply) {
        JsonNode request = object(body);
        JsonNode code = request.get("code");
        if (code == null || !code.isTextual()) {
            throw SandboxException.invalid("\"code\" is required: a string");
        }
        language(request.get("language"));
        String contextId = null;
        JsonNode context = request.get("context_id");
        if (context != null && !context.isNull()) {
            contextId = context.asText();
            if (sandbox.context(contextId).isEmpty()) {
                throw SandboxException.notFound("context " + contextId + " not found");
            }
        }
        Map<String, String> env = SandboxRequests.environment(request.get("env_vars"), "env_vars");
        E2bExecuteSink sink =
                new E2bExecuteSink(reply, mapper, config.http().writeStallTimeout(), sandbox.countExecution());
        // Watched before the execution is queued: a client that is gone by then cancels it at once.
        AtomicReference<Execution> queued = new AtomicReference<>();
        AtomicBoolean gone = new AtomicBoolean();
        ctx.response().closeHandler(closed -> {
            gone.set(true);
            sink.clientGone();
            Execution running = queued.get();
            if (running != null) {
                running.cancel();
            }
        });
        // The SDK's own timeouts just drop the connection: the server's longest one applies here.
        Execution execution = sandbox.execute(
                new ExecutionRequest(code.asText(), config.execute().maxTimeout(), false, env, contextId), sink);
        queued.set(execution);
        if (gone.get() || ctx.response().closed()) {
            execution.cancel();
        }
    }

    private static void language(JsonNode language) {
        if (language != null && !language.isNull() && !language.asText().equalsIgnoreCase("python")) {
            throw SandboxException.invalid("only python runs here, not " + language.asText());
        }
    }

    private JsonNode object(byte[] body) {
        JsonNode node = body.length == 0 ? null : json.read(body);
        if (node == null) {
            return mapper.createObjectNode();
        }
        if (!node.isObject()) {
            throw SandboxException.invalid("the request body must be a JSON object");
        }
        return node;
    }
}
