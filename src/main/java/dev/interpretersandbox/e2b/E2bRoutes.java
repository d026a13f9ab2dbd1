package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.auth.AccessTokens;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * E2B's API (sandbox.e2b.enabled): one Vert.x route for everything under sandbox.e2b.path, after
 * the fleet's forwarding and ahead of the service's own routes, that checks who is asking and
 * hands the request to its plane.
 *
 * <ul>
 *   <li>The control plane ({@link ControlPlane}): {@code <path>/sandboxes...} and
 *       {@code <path>/v2/sandboxes...}, with an API key from sandbox.e2b.api-keys in X-API-KEY.
 *   <li>The sandbox plane at {@code <path>/sandbox}: one base URL for every sandbox, routed on
 *       E2b-Sandbox-Id (and E2b-Sandbox-Port, which only says which of E2B's servers the path
 *       belongs to: the paths of the Jupyter side ({@link JupyterPlane}) and of envd ({@link
 *       EnvdPlane}) do not overlap). It takes the sandbox's own access token, in X-Access-Token
 *       or E2B-Traffic-Access-Token (the SDK sends only the latter for /contexts).
 * </ul>
 *
 * A sandbox plane request for a sandbox that does not exist gets 502, as E2B's proxy answers:
 * that is how the SDKs tell a sandbox that is gone.
 */
@ApplicationScoped
class E2bRoutes {

    private static final Logger LOG = Logger.getLogger(E2bRoutes.class);
    private static final Pattern KEY = Pattern.compile("e2b_[0-9a-f]+");
    static final String SANDBOX_ID = "E2b-Sandbox-Id";
    static final String SANDBOX_PORT = "E2b-Sandbox-Port";
    static final String ACCESS_TOKEN = "X-Access-Token";
    static final String TRAFFIC_TOKEN = "E2B-Traffic-Access-Token";

    private final SandboxConfig.E2b config;
    private final List<byte[]> keys;
    private final SandboxService sandboxes;
    private final ObjectMapper mapper;
    private final ControlPlane control;
    private final JupyterPlane jupyter;
    private final EnvdPlane envd;

    E2bRoutes(
            SandboxConfig config,
            SandboxService sandboxes,
            ObjectMapper mapper,
            ControlPlane control,
            JupyterPlane jupyter,
            EnvdPlane envd) {
        this.config = config.e2b();
        this.sandboxes = sandboxes;
        this.mapper = mapper;
        this.control = control;
        this.jupyter = jupyter;
        this.envd = envd;
        if (this.config.enabled() && !this.config.path().matches("/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]")) {
            throw new IllegalStateException(
                    "sandbox.e2b.path must be a path such as /e2b, not '" + this.config.path() + "'");
        }
        List<String> configured = this.config.apiKeys().orElse(List.of());
        for (String key : configured) {
            if (!KEY.matcher(key).matches()) {
                throw new IllegalStateException(
                        "sandbox.e2b.api-keys: every key must be e2b_ followed by lowercase hex digits, as E2B's are");
            }
        }
        this.keys = configured.stream().map(E2bRoutes::digest).toList();
    }

    void register(@Observes Router router) {
        if (!config.enabled()) {
            return;
        }
        String prefix = config.path();
        if (keys.isEmpty()) {
            LOG.warn("sandbox.e2b.enabled without sandbox.e2b.api-keys: every E2B control-plane call gets 401");
        }
        LOG.infof(
                "E2B API at %s (E2B_API_URL=http://<host>:<port>%s, E2B_SANDBOX_URL=...%s/sandbox)",
                prefix, prefix, prefix);
        // after the fleet's forwarding (-40): a call for a sandbox on another instance goes there
        router.route(prefix + "/*").order(-30).handler(this::route);
    }

    private void route(RoutingContext ctx) {
        String path = ctx.normalizedPath().substring(config.path().length());
        if (path.equals("/sandbox") || path.startsWith("/sandbox/")) {
            sandboxPlane(ctx, path.substring("/sandbox".length()));
            return;
        }
        E2bReply reply = new E2bReply(ctx, mapper, E2bReply.Channel.REST);
        if (!validKey(ctx.request().getHeader("X-API-KEY"))) {
            reply.error(401, "Invalid API key");
            return;
        }
        try {
            control.handle(ctx, path, reply);
        } catch (RuntimeException e) {
            reply.fail(e);
        }
    }

    private void sandboxPlane(RoutingContext ctx, String path) {
        boolean connect = path.startsWith("/filesystem.") || path.startsWith("/process.");
        E2bReply reply = new E2bReply(ctx, mapper, connect ? E2bReply.Channel.CONNECT : E2bReply.Channel.REST);
        String id = ctx.request().getHeader(SANDBOX_ID);
        if (id == null || id.isBlank()) {
            reply.error(400, "the sandbox plane needs the " + SANDBOX_ID + " header (set E2B_SANDBOX_URL)");
            return;
        }
        Optional<Sandbox> found = sandboxes.find(id);
        if (found.isEmpty() || id.equals(SandboxService.DEFAULT)) {
            reply.error(502, "The sandbox " + id + " was not found: it was killed, or timed out");
            return;
        }
        Sandbox sandbox = found.get();
        String token = ctx.request().getHeader(ACCESS_TOKEN);
        if (token == null) {
            token = ctx.request().getHeader(TRAFFIC_TOKEN);
        }
        if (token == null) {
            reply.error(401, "this sandbox needs its access token (X-Access-Token)");
            return;
        }
        if (!AccessTokens.matches(token, sandbox.spec().accessTokenHashes())) {
            reply.error(403, "this access token is not valid for sandbox " + id);
            return;
        }
        try {
            if (jupyter.handles(path)) {
                jupyter.handle(ctx, sandbox, path, reply);
            } else if (envd.handles(path)) {
                envd.handle(ctx, sandbox, path, reply);
            } else {
                reply.error(404, "no such endpoint: " + ctx.request().method() + " " + path);
            }
        } catch (RuntimeException e) {
            reply.fail(e);
        }
    }

    private boolean validKey(String key) {
        if (key == null) {
            return false;
        }
        byte[] given = digest(key);
        boolean found = false;
        for (byte[] known : keys) {
            found |= MessageDigest.isEqual(given, known);
        }
        return found;
    }

    private static byte[] digest(String key) {
        return AccessTokens.digest(key);
    }

    /** The {id} of a path like /sandboxes/{id}/rest, with the rest. */
    record Target(String id, String rest) {
        private static final Pattern SHAPE = Pattern.compile("^/(?:v2/)?sandboxes/([^/]+)(/.*)?$");

        static Optional<Target> of(String path) {
            Matcher m = SHAPE.matcher(path);
            return m.matches()
                    ? Optional.of(new Target(m.group(1), m.group(2) == null ? "" : m.group(2)))
                    : Optional.empty();
        }
    }

    static boolean is(RoutingContext ctx, HttpMethod method) {
        return ctx.request().method().equals(method);
    }

    static SandboxException invalid(String message) {
        return SandboxException.invalid(message);
    }
}
