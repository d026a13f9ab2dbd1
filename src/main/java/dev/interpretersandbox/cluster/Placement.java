package dev.interpretersandbox.cluster;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import jakarta.enterprise.context.ApplicationScoped;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The fleet's shared work: a sandbox that does not fit here is created on the first other
 * instance that has room, and the fleet's list gathers every instance's. Instances are asked one
 * after the other, in order; in a StatefulSet the first ordinal whose name does not resolve ends
 * the fleet.
 *
 * <p>Thread-safety: stateless.
 */
@ApplicationScoped
public class Placement {

    private final Fleet fleet;
    private final Forwarder forwarder;

    Placement(Fleet fleet, Forwarder forwarder) {
        this.fleet = fleet;
        this.forwarder = forwarder;
    }

    /**
     * POST /sandboxes on the other instances in turn, until one creates it: its reply (201), or
     * empty when every instance that answered is full too.
     */
    public CompletionStage<Optional<Forwarder.Reply>> placeElsewhere(MultiMap headers, Buffer body) {
        return tryFrom(fleet.others(), 0, headers, body);
    }

    private CompletionStage<Optional<Forwarder.Reply>> tryFrom(
            List<String> instances, int index, MultiMap headers, Buffer body) {
        if (index >= instances.size()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        String instance = instances.get(index);
        return forwarder
                .call(instance, HttpMethod.POST, "/sandboxes", headers, body)
                .handle((reply, failure) -> {
                    if (failure != null) {
                        return endOfFleet(failure) ? null : Optional.<Forwarder.Reply>empty();
                    }
                    return reply.status() == 503 ? Optional.<Forwarder.Reply>empty() : Optional.of(reply);
                })
                .thenCompose(outcome -> {
                    if (outcome == null) {
                        return CompletableFuture.completedFuture(Optional.empty()); // no such ordinal
                    }
                    return outcome.isPresent()
                            ? CompletableFuture.completedFuture(outcome)
                            : tryFrom(instances, index + 1, headers, body);
                });
    }

    /** What the other instances list: their replies' bodies, and who could not be asked. */
    public record Listing(List<Buffer> bodies, List<String> unavailable) {}

    /** GET /sandboxes?instance=<each other instance>. */
    public CompletionStage<Listing> listOthers(MultiMap headers) {
        return listFrom(fleet.others(), 0, headers, new Listing(new ArrayList<>(), new ArrayList<>()));
    }

    private CompletionStage<Listing> listFrom(List<String> instances, int index, MultiMap headers, Listing so) {
        if (index >= instances.size()) {
            return CompletableFuture.completedFuture(so);
        }
        String instance = instances.get(index);
        return forwarder
                .call(instance, HttpMethod.GET, "/sandboxes?instance=" + instance, headers, null)
                .handle((reply, failure) -> {
                    if (failure != null) {
                        if (endOfFleet(failure)) {
                            return false;
                        }
                        so.unavailable().add(instance);
                    } else if (reply.status() == 200) {
                        so.bodies().add(reply.body());
                    } else {
                        so.unavailable().add(instance);
                    }
                    return true;
                })
                .thenCompose(more ->
                        more ? listFrom(instances, index + 1, headers, so) : CompletableFuture.completedFuture(so));
    }

    /** A StatefulSet ordinal whose name does not resolve: there are no more instances. */
    private boolean endOfFleet(Throwable failure) {
        if (!fleet.othersAreOrdinals()) {
            return false;
        }
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof UnknownHostException
                    || (cause.getMessage() != null && cause.getMessage().contains("Failed to resolve"))) {
                return true;
            }
        }
        return false;
    }
}
