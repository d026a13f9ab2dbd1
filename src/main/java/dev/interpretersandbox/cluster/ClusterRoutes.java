package dev.interpretersandbox.cluster;

import dev.interpretersandbox.config.SandboxConfig;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Fleet mode's routing, ahead of the resources (after authentication and the body-size check):
 * a request for another instance's sandbox goes to that instance; the unprefixed seed API (the
 * default sandbox) goes to the default instance; everything else, and every request that was
 * already forwarded once, is served here.
 *
 * <p>Thread-safety: stateless; runs on the event loop.
 */
@ApplicationScoped
class ClusterRoutes {

    private final Fleet fleet;
    private final Forwarder forwarder;

    /** E2B's header that names the sandbox of a sandbox-plane request. */
    private static final String E2B_SANDBOX = "E2b-Sandbox-Id";

    private static final Pattern E2B_TARGET = Pattern.compile("^/(?:v2/)?sandboxes/([^/]+)(?:/.*)?$");

    private Optional<String> e2bPrefix = Optional.empty();

    @Inject
    ClusterRoutes(Fleet fleet, Forwarder forwarder, SandboxConfig config) {
        this(fleet, forwarder);
        this.e2bPrefix = config.e2b().enabled() ? Optional.of(config.e2b().path()) : Optional.empty();
    }

    ClusterRoutes(Fleet fleet, Forwarder forwarder) {
        this.fleet = fleet;
        this.forwarder = forwarder;
    }

    void register(@Observes Router router) {
        if (fleet.enabled()) {
            router.route().order(-40).handler(this::route);
        }
    }

    private void route(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        Optional<String> owner = request.headers().contains(Forwarder.FORWARDED)
                ? Optional.empty() // forwarded once: served here, never passed on again
                : owner(request.path(), request.method(), request.getParam("instance"), request.getHeader(E2B_SANDBOX));
        if (owner.isEmpty() || owner.get().equals(fleet.self())) {
            ctx.next();
            return;
        }
        forwarder.forward(ctx, owner.get());
    }

    /** Which instance serves a request; empty for this one (or to answer here, e.g. 404). */
    Optional<String> owner(String path, HttpMethod method, String instanceParam) {
        return owner(path, method, instanceParam, null);
    }

    /** As above; e2bSandbox is E2B's E2b-Sandbox-Id header, which names the sandbox on its sandbox plane. */
    Optional<String> owner(String path, HttpMethod method, String instanceParam, String e2bSandbox) {
        if (e2bPrefix.isPresent() && (path.equals(e2bPrefix.get()) || path.startsWith(e2bPrefix.get() + "/"))) {
            String rest = path.substring(e2bPrefix.get().length());
            if (rest.startsWith("/sandbox/") && e2bSandbox != null) {
                return fleet.ownerOf(e2bSandbox);
            }
            Matcher target = E2B_TARGET.matcher(rest);
            return target.matches() ? fleet.ownerOf(target.group(1)) : Optional.empty();
        }
        if (path.equals("/") || path.equals("/execute") || path.equals("/commands") || path.startsWith("/files/")) {
            return Optional.of(fleet.defaultInstance()); // the seed API: the default sandbox
        }
        if (path.equals("/sandboxes") || path.equals("/sandboxes/")) {
            if (method == HttpMethod.GET && instanceParam != null && fleet.isInstance(instanceParam)) {
                return Optional.of(instanceParam);
            }
            return Optional.empty(); // create (placement) and the fleet's list are this instance's work
        }
        if (path.startsWith("/sandboxes/")) {
            int end = path.indexOf('/', "/sandboxes/".length());
            String id = end < 0 ? path.substring("/sandboxes/".length()) : path.substring("/sandboxes/".length(), end);
            return fleet.ownerOf(id);
        }
        return Optional.empty();
    }
}
