package dev.interpretersandbox.api;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.isolation.Sizes;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Every request body is bounded before it is read, per route: executes by
 * sandbox.execute.max-request-size, every other endpoint by sandbox.http.max-json-body. A body
 * whose Content-Length is larger is refused with 413 at once, ahead of every resource (an {@code
 * Expect: 100-continue} client never sends it), and the connection is closed instead of reading
 * the rest. The resources that take a body read it with {@link #read}, which refuses a chunked
 * body as soon as it grows past the limit. No resource declares a body parameter, so Quarkus REST
 * never buffers a body itself; a body sent where none is expected is not read at all. Uploads
 * stream to the workspace instead, bounded by its room. MCP's bodies, which its extension has
 * buffered, are read here first, bounded as executes are.
 */
@ApplicationScoped
public class BodyLimits {

    private static final String MCP = "/mcp";

    /** The upload paths, matched on the raw path; anything else, however spelled, is limited. */
    private static final Pattern UPLOAD =
            Pattern.compile("^/(sandboxes/[^/]+/)?files/upload/-/.*"); // a fleet's ids have dots

    private final long executeLimit;
    private final long otherLimit;
    /** E2B's sandbox plane, when it is on: its /files takes uploads, its /execute code. */
    private final String e2bSandbox;

    BodyLimits(SandboxConfig config) {
        this.executeLimit = config.execute().maxRequestSize().asLongValue();
        this.otherLimit = config.http().maxJsonBody().asLongValue();
        this.e2bSandbox = config.e2b().enabled() ? config.e2b().path() + "/sandbox" : null;
    }

    void register(@Observes Router router) {
        router.route().order(-50).handler(this::checkLength);
        // The MCP extension has its bodies read by Quarkus's body handler, bounded only by the
        // global limit (1T, which uploads need): a chunked body, with no Content-Length to refuse
        // ahead, would be held whole. So it is read here first, bounded; that handler then finds
        // it read and lets it be.
        BodyHandler bounded = BodyHandler.create(false).setBodyLimit(executeLimit);
        for (String path : List.of(MCP, MCP + "/*")) {
            router.route(path).order(-49).handler(bounded).failureHandler(this::refuseLargeBody);
        }
    }

    /** The bounded body handler's 413: a JSON answer, and the rest of the body left unread. */
    private void refuseLargeBody(RoutingContext ctx) {
        if (ctx.statusCode() != 413 || ctx.response().headWritten()) {
            ctx.next();
            return;
        }
        refuse(ctx, 413, tooLarge(executeLimit));
    }

    /** Answers status with {"error": message} and hangs up instead of reading the rest of the body. */
    private static void refuse(RoutingContext ctx, int status, String message) {
        close(ctx);
        ctx.response()
                .setStatusCode(status)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end("{\"error\":\"" + message + "\"}");
    }

    long executeLimit() {
        return executeLimit;
    }

    long otherLimit() {
        return otherLimit;
    }

    private void checkLength(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        String path = request.path();
        String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
        if (length == null
                || (request.method() == HttpMethod.POST
                        && (UPLOAD.matcher(path).matches() || path.equals(e2bSandbox + "/files")))) {
            ctx.next(); // uploads are bounded by the workspace's room as they stream
            return;
        }
        long limit = isExecute(path) ? executeLimit : otherLimit;
        try {
            if (Long.parseLong(length.strip()) <= limit) {
                ctx.next();
                return;
            }
        } catch (NumberFormatException e) {
            refuse(ctx, 400, "invalid Content-Length");
            return;
        }
        refuse(ctx, 413, tooLarge(limit));
    }

    /** Bodies that carry code or a file's content: execute, E2B's execute, MCP's tool calls. */
    private boolean isExecute(String path) {
        return path.equals("/execute")
                || (path.startsWith("/sandboxes/") && path.endsWith("/execute"))
                || path.equals(e2bSandbox + "/execute")
                || path.equals(MCP)
                || path.startsWith(MCP + "/");
    }

    static String tooLarge(long limit) {
        return "the request body is larger than " + Sizes.human(limit);
    }

    /** Answer, then hang up instead of reading the rest of a body we refused. */
    public static void close(RoutingContext ctx) {
        ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
        // addEndHandler, not the response's single endHandler, which the framework sets for itself.
        ctx.addEndHandler(ended -> ctx.request().connection().close());
    }

    /**
     * Reads a (paused) request's body of at most limit bytes; past it TOO_LARGE, with the rest
     * left unread and the connection closed after the answer.
     */
    public static Uni<byte[]> read(RoutingContext ctx, long limit) {
        HttpServerRequest request = ctx.request();
        return Uni.createFrom().emitter(emitter -> {
            if (request.isEnded()) {
                emitter.complete(new byte[0]);
                return;
            }
            if ("100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT))
                    && request.version() != HttpVersion.HTTP_1_0) {
                request.response().writeContinue();
            }
            Buffer body = Buffer.buffer();
            boolean[] over = {false};
            request.handler(chunk -> {
                if (over[0]) {
                    return;
                }
                if (body.length() + chunk.length() > limit) {
                    over[0] = true;
                    request.pause(); // nothing more is read
                    close(ctx);
                    emitter.fail(SandboxException.tooLarge(tooLarge(limit)));
                    return;
                }
                body.appendBuffer(chunk);
            });
            request.exceptionHandler(e -> {
                if (!over[0]) {
                    over[0] = true;
                    emitter.fail(SandboxException.invalid("the request body could not be read: " + e.getMessage()));
                }
            });
            request.endHandler(v -> {
                if (!over[0]) {
                    emitter.complete(body.getBytes());
                }
            });
            request.resume();
        });
    }
}
