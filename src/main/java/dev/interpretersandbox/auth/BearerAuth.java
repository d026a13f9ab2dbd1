package dev.interpretersandbox.auth;

import dev.interpretersandbox.cluster.Fleet;
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

    private final Optional<byte[]> expected;
    private final boolean protectPing;
    private final Optional<String> e2bPrefix;
    private final SandboxService sandboxes;
    private final Fleet fleet;

    BearerAuth(SandboxConfig config, SandboxService sandboxes, Fleet fleet) {
        this.expected = config.auth().token().map(AccessTokens::digest);
        this.protectPing = config.auth().protectPing();
        this.e2bPrefix = config.e2b().enabled() ? Optional.of(config.e2b().path()) : Optional.empty();
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
        if (token != null && route.matches()) {
            String id = route.group(1);
            Optional<Sandbox> local = sandboxes.find(id);
            boolean elsewhere = local.isEmpty()
                    && fleet.enabled()
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
            ctx.response()
                    .setStatusCode(403)
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end("{\"error\":\"this token is not valid for this sandbox\"}");
            return;
        }
        ctx.response()
                .setStatusCode(401)
                .putHeader("WWW-Authenticate", "Bearer realm=\"interpreter-sandbox\"")
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end("{\"error\":\"a valid bearer token is required: send Authorization: Bearer <token>\"}");
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
