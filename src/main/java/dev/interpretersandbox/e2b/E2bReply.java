package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.api.BodyLimits;
import dev.interpretersandbox.api.ErrorMappers;
import dev.interpretersandbox.error.SandboxException;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * Answers one E2B request from any thread (on the request's own Vert.x context), in the error
 * shape of the channel it came on: the control plane and envd's REST part send
 * {@code {"code": <status>, "message": ...}}, Connect RPC unary calls {@code {"code": "not_found",
 * ...}} with the matching status, as the SDKs map errors by those bodies.
 */
final class E2bReply {

    private static final Logger LOG = Logger.getLogger(E2bReply.class);

    /** How errors are written on this request's channel. */
    enum Channel {
        REST,
        CONNECT
    }

    private final RoutingContext ctx;
    private final Context context;
    private final ObjectMapper mapper;
    private final Channel channel;

    E2bReply(RoutingContext ctx, ObjectMapper mapper, Channel channel) {
        this.ctx = ctx;
        this.context = Vertx.currentContext();
        this.mapper = mapper;
        this.channel = channel;
    }

    RoutingContext ctx() {
        return ctx;
    }

    /** What is done with a request's body; its exceptions become the reply. */
    interface BodyHandler {
        void accept(byte[] body);
    }

    /** What is done with a step's value; its exceptions become the reply. */
    interface Then<T> {
        void accept(T value);
    }

    /** When stage completes: then with its value, or its failure as the reply. */
    <T> void after(CompletionStage<T> stage, Then<T> then) {
        stage.whenComplete((value, failure) -> {
            if (failure != null) {
                fail(failure);
                return;
            }
            try {
                then.accept(value);
            } catch (RuntimeException e) {
                fail(e);
            }
        });
    }

    /** Reads a body of at most limit bytes (past it 413), then hands it over. */
    void body(long limit, BodyHandler handler) {
        BodyLimits.read(ctx, limit)
                .subscribe()
                .with(
                        body -> {
                            try {
                                handler.accept(body);
                            } catch (RuntimeException e) {
                                fail(e);
                            }
                        },
                        this::fail);
    }

    /** Runs on the request's context (responses are written there). */
    void run(Runnable action) {
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(ignored -> action.run());
        }
    }

    /**
     * For a streamed answer, under monitor's lock (which the response's drain handler notifies):
     * waits while the client's write queue is full. False when gone says the client left, when
     * the thread is interrupted, or when the client read nothing for stall: then stalled runs and
     * the connection is closed, whose close handler stops the work.
     */
    boolean awaitRoom(Object monitor, Duration stall, BooleanSupplier gone, Runnable stalled) {
        long deadline = System.nanoTime() + stall.toNanos();
        while (!gone.getAsBoolean() && ctx.response().writeQueueFull()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                run(() -> ctx.response().close());
                stalled.run();
                return false;
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(monitor, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return !gone.getAsBoolean();
    }

    void json(int status, Object body) {
        byte[] bytes;
        try {
            bytes = mapper.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            fail(new SandboxException(SandboxException.Kind.INTERNAL, "cannot write the answer", e));
            return;
        }
        run(() -> {
            HttpServerResponse response = ctx.response();
            if (response.ended() || response.closed()) {
                return;
            }
            response.setStatusCode(status)
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(Buffer.buffer(bytes));
        });
    }

    /** 204, nothing else: the SDKs parse any other empty 2xx body as JSON and fail. */
    void noContent() {
        run(() -> {
            if (!ctx.response().ended()) {
                ctx.response().setStatusCode(204).end();
            }
        });
    }

    void error(int status, String message) {
        if (channel == Channel.CONNECT) {
            json(status, Map.of("code", connectCode(status), "message", message));
        } else {
            json(status, Map.of("code", status, "message", message));
        }
    }

    /** A failure of an asynchronous step, in this channel's shape. */
    void fail(Throwable failure) {
        SandboxException known = SandboxException.of(failure);
        int status = ErrorMappers.status(known.kind());
        if (status >= 500) {
            LOG.debugf("E2B request %s failed: %s", ctx.normalizedPath(), known.getMessage());
        }
        known.retryAfter()
                .ifPresent(after -> run(() ->
                        ctx.response().putHeader("Retry-After", Long.toString(Math.max(1, after.toSeconds())))));
        error(status, known.getMessage());
    }

    /** Connect's code names for the statuses this service answers with. */
    static String connectCode(int status) {
        return switch (status) {
            case 400, 413 -> "invalid_argument";
            case 401 -> "unauthenticated";
            case 403 -> "permission_denied";
            case 404, 410 -> "not_found";
            case 409 -> "already_exists";
            case 429 -> "resource_exhausted";
            case 503 -> "unavailable";
            case 504 -> "deadline_exceeded";
            default -> "internal";
        };
    }
}
