package dev.interpretersandbox.auth;

import dev.interpretersandbox.config.SandboxConfig;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Optional;
import java.util.Set;
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

    private final Optional<byte[]> expected;
    private final boolean protectPing;

    BearerAuth(SandboxConfig config) {
        this.expected = config.auth().token().map(BearerAuth::digest);
        this.protectPing = config.auth().protectPing();
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
        if (open(ctx) || authorized(ctx.request().getHeader(HttpHeaders.AUTHORIZATION))) {
            ctx.next();
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
        HttpMethod method = ctx.request().method();
        return !protectPing && path.equals("/") && (method == HttpMethod.GET || method == HttpMethod.HEAD);
    }

    /** Compares digests, so neither the token's content nor its length shows in the timing. */
    boolean authorized(String header) {
        if (header == null
                || header.length() <= PREFIX.length()
                || !header.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return false;
        }
        return MessageDigest.isEqual(digest(header.substring(PREFIX.length()).strip()), expected.orElseThrow());
    }

    private static byte[] digest(String token) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
