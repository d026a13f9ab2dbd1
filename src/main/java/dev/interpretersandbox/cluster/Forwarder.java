package dev.interpretersandbox.cluster;

import dev.interpretersandbox.config.SandboxConfig;
import io.smallrye.faulttolerance.api.TypedGuard;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.util.TypeLiteral;
import java.net.URI;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Requests for another instance's sandbox go to that instance through one pooled Vert.x HTTP
 * client: the body streams to the owner and its response streams back, both with back-pressure,
 * so nothing is buffered whole. Status and headers pass through (but hop-by-hop ones), the
 * caller's credentials too: the owner checks them again. A client that hangs up resets the
 * forwarded request, so the owner sees the same hang-up and interrupts the execution.
 *
 * <p>Getting a connection to a peer is guarded per peer (SmallRye Fault Tolerance): a timeout,
 * and a circuit breaker that answers at once while a peer keeps failing. An unreachable owner is
 * a 503 with Retry-After, never a 404.
 *
 * <p>Thread-safety: safe for concurrent use; each forwarded request lives on its event loop.
 */
@ApplicationScoped
public class Forwarder {

    /** Marks a forwarded request: its receiver serves it locally and forwards nothing further. */
    public static final String FORWARDED = "X-Sandbox-Forwarded";

    private static final Logger LOG = Logger.getLogger(Forwarder.class);
    private static final Set<String> HOP_BY_HOP = Set.of(
            "connection",
            "keep-alive",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "host",
            "expect",
            "content-length");
    private static final Duration RETRY_AFTER = Duration.ofSeconds(5);

    private final Fleet fleet;
    private final HttpClient client;
    private final Duration connectTimeout;
    private final Map<String, TypedGuard<CompletionStage<HttpClientRequest>>> guards = new ConcurrentHashMap<>();

    Forwarder(Fleet fleet, Vertx vertx, SandboxConfig config) {
        this.fleet = fleet;
        this.connectTimeout = config.cluster().connectTimeout();
        this.client = vertx.createHttpClient(
                new HttpClientOptions()
                        .setKeepAlive(true)
                        .setTcpNoDelay(true)
                        .setConnectTimeout((int) connectTimeout.toMillis())
                        .setMaxInitialLineLength(64 << 10),
                new PoolOptions().setHttp1MaxSize(64));
    }

    /** An instance that cannot be reached now: a 503 with Retry-After, and why. */
    public static final class Unavailable extends RuntimeException {
        public Unavailable(String instance, Throwable cause) {
            super("instance " + instance + " is unavailable", cause);
        }
    }

    /**
     * Connection to instance (guarded), then the request's headers; the stage completes once the
     * request can be written.
     */
    private CompletionStage<HttpClientRequest> open(String instance, RequestOptions options) {
        TypedGuard<CompletionStage<HttpClientRequest>> guard = guards.computeIfAbsent(
                instance,
                name -> TypedGuard.create(new TypeLiteral<CompletionStage<HttpClientRequest>>() {})
                        .withDescription("peer " + name)
                        .withTimeout()
                        .duration(connectTimeout.toMillis(), ChronoUnit.MILLIS)
                        .done()
                        .withCircuitBreaker()
                        .requestVolumeThreshold(4)
                        .failureRatio(0.5)
                        .delay(5, ChronoUnit.SECONDS)
                        .successThreshold(1)
                        .name("peer-" + name)
                        .done()
                        .withThreadOffload(false) // getting a connection does not block: stay on the event loop
                        .build());
        try {
            return guard.call(() -> client.request(options).toCompletionStage()).exceptionally(e -> {
                throw new Unavailable(instance, e);
            });
        } catch (Exception e) {
            return CompletableFuture.failedFuture(new Unavailable(instance, e));
        }
    }

    private RequestOptions options(String instance, HttpMethod method, String uri, MultiMap headers) {
        URI base = fleet.url(instance);
        RequestOptions options = new RequestOptions()
                .setMethod(method)
                .setHost(base.getHost())
                .setPort(base.getPort() < 0 ? 80 : base.getPort())
                .setURI(uri)
                .setFollowRedirects(false);
        headers.forEach(header -> {
            if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
                options.addHeader(header.getKey(), header.getValue());
            }
        });
        options.putHeader(FORWARDED, fleet.self());
        return options;
    }

    /**
     * Streams the request in ctx to instance and its response back (event loop). The request must
     * not have been read yet.
     */
    public void forward(RoutingContext ctx, String instance) {
        HttpServerRequest in = ctx.request();
        HttpServerResponse out = ctx.response();
        in.pause();
        String length = in.getHeader(HttpHeaders.CONTENT_LENGTH);
        RequestOptions options = options(instance, in.method(), in.uri(), in.headers());
        Context context = Vertx.currentContext();
        open(instance, options)
                .whenComplete((request, failure) -> onContext(context, () -> {
                    if (failure != null) {
                        unavailable(ctx, instance, failure);
                        return;
                    }
                    if (length != null) {
                        request.putHeader(HttpHeaders.CONTENT_LENGTH, length);
                    } else if (in.headers().contains(HttpHeaders.TRANSFER_ENCODING)) {
                        request.setChunked(true);
                    }
                    // the client hung up or the connection broke: the owner must see the same
                    out.closeHandler(closed -> request.reset());
                    request.response()
                            .onSuccess(response -> relay(ctx, response))
                            .onFailure(e -> {
                                if (!out.headWritten()) {
                                    unavailable(ctx, instance, e);
                                } else {
                                    out.reset();
                                }
                            });
                    if ("100-continue".equalsIgnoreCase(in.getHeader(HttpHeaders.EXPECT))) {
                        out.writeContinue();
                    }
                    in.pipeTo(request).onFailure(e -> request.reset());
                }));
    }

    /** Runs task on context: at once when already there (the usual case), else scheduled onto it. */
    private static void onContext(Context context, Runnable task) {
        if (Vertx.currentContext() == context) {
            task.run();
        } else {
            context.runOnContext(ignored -> task.run());
        }
    }

    private static void relay(RoutingContext ctx, HttpClientResponse response) {
        HttpServerResponse out = ctx.response();
        if (out.closed()) {
            return;
        }
        out.setStatusCode(response.statusCode());
        out.setStatusMessage(response.statusMessage());
        response.headers().forEach(header -> {
            if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
                out.headers().add(header.getKey(), header.getValue());
            }
        });
        String length = response.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (length != null) {
            out.putHeader(HttpHeaders.CONTENT_LENGTH, length);
        } else {
            out.setChunked(true);
        }
        response.pipeTo(out).onFailure(e -> {
            if (!out.closed()) {
                out.reset();
            }
        });
    }

    private static void unavailable(RoutingContext ctx, String instance, Throwable failure) {
        LOG.debugf("instance %s is unavailable: %s", instance, failure.toString());
        if (ctx.response().headWritten() || ctx.response().closed()) {
            return;
        }
        HttpServerRequest request = ctx.request();
        String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
        boolean unreadBody = !request.isEnded()
                && ((length != null && !length.equals("0"))
                        || request.headers().contains(HttpHeaders.TRANSFER_ENCODING));
        ctx.response()
                .setStatusCode(503)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .putHeader("Retry-After", Long.toString(RETRY_AFTER.toSeconds()))
                .end(new JsonObject()
                        .put("error", "instance " + instance + " is unavailable")
                        .encode())
                .onComplete(written -> {
                    if (unreadBody) {
                        request.connection().close(); // the body will not be read
                    } else {
                        request.resume(); // nothing to read: the connection stays usable
                    }
                });
    }

    /** A whole (small) response from a peer. */
    public record Reply(int status, MultiMap headers, Buffer body) {}

    /**
     * A small request to instance with a body held in memory (placement, listing), with the
     * caller's headers; completes with the peer's whole reply, or fails with {@link Unavailable}.
     */
    public CompletionStage<Reply> call(String instance, HttpMethod method, String uri, MultiMap headers, Buffer body) {
        RequestOptions options = options(instance, method, uri, headers);
        return open(instance, options).thenCompose(request -> {
            Future<HttpClientResponse> sent = body == null ? request.send() : request.send(body);
            return sent.compose(response ->
                            response.body().map(bytes -> new Reply(response.statusCode(), response.headers(), bytes)))
                    .toCompletionStage()
                    .exceptionally(e -> {
                        throw new Unavailable(instance, e);
                    });
        });
    }

    @PreDestroy
    void close() {
        client.close();
    }
}
