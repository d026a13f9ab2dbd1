package dev.interpretersandbox.cluster;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Optional;

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
                : owner(request.path(), request.method(), request.getParam("instance"));
        if (owner.isEmpty() || owner.get().equals(fleet.self())) {
            ctx.next();
            return;
        }
        forwarder.forward(ctx, owner.get());
    }

    /** Which instance serves a request; empty for this one (or to answer here, e.g. 404). */
    Optional<String> owner(String path, HttpMethod method, String instanceParam) {
        if (path.equals("/") || path.equals("/execute") || path.startsWith("/files/")) {
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
