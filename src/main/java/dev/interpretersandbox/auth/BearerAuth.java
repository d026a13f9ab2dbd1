package dev.interpretersandbox.auth;

import dev.interpretersandbox.cluster.Fleet;
import dev.interpretersandbox.cluster.Forwarder;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The optional bearer token ({@code sandbox.auth.token}). When set, every request but the health
 * checks needs {@code Authorization: Bearer <token>}: the API, the file routes, metrics and the
 * API description. {@code GET /} stays open for platform health checks unless {@code
 * sandbox.auth.protect-ping}. A route ahead of all others, so it covers the Vert.x routes and the
 * JAX-RS resources alike.
 */
@ApplicationScoped
class BearerAuth {

    private static final Logger LOG = Logger.getLogger(BearerAuth.class);
    private static final String PREFIX = "bearer ";
    private static final Set<String> HEALTH =
            Set.of("/q/health", "/q/health/", "/q/health/live", "/q/health/ready", "/q/health/started");

    /** A sandbox's own routes: its token opens these and nothing else. */
    private static final Pattern SANDBOX_ROUTE = Pattern.compile("^/sandboxes/([^/]+)(/.*)?$");
    /** What sandbox ids are made of (sb-<hex>, and .<instance> in fleet mode). */
    private static final Pattern PLAIN_ID = Pattern.compile("[a-z0-9][a-z0-9.-]{0,127}");

    private final Optional<byte[]> expected;
    private final boolean protectPing;
    private final Optional<String> e2bPrefix;
    private final SandboxService sandboxes;
    private final Fleet fleet;

    BearerAuth(SandboxConfig config, SandboxService sandboxes, Fleet fleet) {
        this.expected = config.auth().token().map(AccessTokens::digest);
        this.protectPing = config.auth().protectPing();
        // only a real prefix: "" or "/" must never open everything
        this.e2bPrefix = config.e2b().enabled() && config.e2b().path().matches("/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]")
                ? Optional.of(config.e2b().path())
                : Optional.empty();
        this.sandboxes = sandboxes;
        this.fleet = fleet;
    }

    void register(@Observes Router router) {
        if (expected.isEmpty()) {
            LOG.info("no sandbox.auth.token set: the API is open to anyone who can reach the port");
            return;
        }
        LOG.infof("bearer token required for all endpoints but the health checks%s", protectPing ? "" : " and GET /");
        router.route().order(-1000).handler(this::check);
    }

    void check(RoutingContext ctx) {
        String header = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
        if (open(ctx) || authorized(header)) {
            ctx.next();
            return;
        }
        String token = bearer(header);
        Matcher route = SANDBOX_ROUTE.matcher(ctx.normalizedPath());
        Matcher raw = SANDBOX_ROUTE.matcher(ctx.request().path());
        if (token != null && route.matches()) {
            String id = route.group(1);
            // The id as every later stage reads it: the raw path (fleet routing) and the resource
            // (which drops ;parameters) must name the same sandbox as this check, so an id with
            // anything but plain characters, or written differently raw, opens nothing.
            if (!PLAIN_ID.matcher(id).matches()
                    || !raw.matches()
                    || !raw.group(1).equals(id)) {
                forbidden(ctx);
                return;
            }
            Optional<Sandbox> local = sandboxes.find(id);
            boolean elsewhere = local.isEmpty()
                    && fleet.enabled()
                    && !ctx.request().headers().contains(Forwarder.FORWARDED) // else served here, not by its owner
                    && fleet.ownerOf(id)
                            .filter(owner -> !owner.equals(fleet.self()))
                            .isPresent();
            if (elsewhere
                    || local.filter(sandbox ->
                                    AccessTokens.matches(token, sandbox.spec().accessTokenHashes()))
                            .isPresent()) {
                ctx.next(); // a peer that owns the sandbox checks the token itself
                return;
            }
            forbidden(ctx);
            return;
        }
        ctx.response()
                .setStatusCode(401)
                .putHeader("WWW-Authenticate", "Bearer realm=\"interpreter-sandbox\"")
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end("{\"error\":\"a valid bearer token is required: send Authorization: Bearer <token>\"}");
    }

    private static void forbidden(RoutingContext ctx) {
        ctx.response()
                .setStatusCode(403)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end("{\"error\":\"this token is not valid for this sandbox\"}");
    }

    private boolean open(RoutingContext ctx) {
        String path = ctx.normalizedPath();
        if (HEALTH.contains(path)) {
            return true; // exact paths only: nothing else may ride along on a health prefix
        }
        if (e2bPrefix
                .filter(prefix -> path.equals(prefix) || path.startsWith(prefix + "/"))
                .isPresent()) {
            return true; // E2B's API checks its own keys and sandbox tokens (e2b/E2bAuth)
        }
        HttpMethod method = ctx.request().method();
        return !protectPing && path.equals("/") && (method == HttpMethod.GET || method == HttpMethod.HEAD);
    }

    /** Compares digests, so neither the token's content nor its length shows in the timing. */
    boolean authorized(String header) {
        String token = bearer(header);
        return token != null && MessageDigest.isEqual(AccessTokens.digest(token), expected.orElseThrow());
    }

    /** The token of an Authorization: Bearer header, or null. */
    private static String bearer(String header) {
        if (header == null
                || header.length() <= PREFIX.length()
                || !header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return null;
        }
        return header.substring(PREFIX.length()).strip();
    }
}
