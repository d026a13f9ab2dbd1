package dev.interpretersandbox.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.Event;
import dev.interpretersandbox.sandbox.Cancellation;
import dev.interpretersandbox.sandbox.ExecutionListener;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * POST /execute (the default sandbox) and POST /sandboxes/{id}/execute : run code in the
 * sandbox's kernel. The response is SANDBOX.md's JSON with an extra "usage", or
 * with {@code Accept: application/x-ndjson} one JSON line per event as it happens and a final
 * {@code {"status": ...}} line, or with {@code Accept: text/event-stream} the same as server-sent
 * events. A Vert.x route rather than a JAX-RS resource because it must see the connection: a
 * client that goes away interrupts its execution, so the kernel is idle for the next caller.
 *
 * <p>Errors before the execution starts (bad input, full queue, broken sandbox) are ordinary
 * {@code {"error"}} responses with their status; once a stream has started, a failure ends it
 * with a final line {@code {"status": "error", "error": ...}}.
 */
@ApplicationScoped
class ExecuteRoute {

    static final String PATH = "/execute";
    static final String NDJSON = "application/x-ndjson";
    static final String SSE = "text/event-stream";
    private static final Logger LOG = Logger.getLogger(ExecuteRoute.class);

    /** The final line of a stream. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record End(String status, String error, ExecutionResult.Usage usage) {}

    /** SANDBOX.md's response; usage is an extra field. */
    record ExecuteResponse(String status, List<Event> events, ExecutionResult.Usage usage) {}

    private final SandboxService sandboxes;
    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final ExecuteRequests requests;

    ExecuteRoute(SandboxService sandboxes, SandboxConfig config, ObjectMapper mapper) {
        this.sandboxes = sandboxes;
        this.config = config;
        this.mapper = mapper;
        this.requests = new ExecuteRequests(mapper, config.execute());
    }

    void register(@Observes Router router) {
        router.route(PATH).order(-100).handler(ctx -> handle(ctx, null));
        router.routeWithRegex("/sandboxes/([^/]+)/execute")
                .order(-100)
                .handler(ctx -> handle(ctx, ctx.pathParam("param0")));
    }

    void handle(RoutingContext ctx, String sandboxId) {
        HttpServerRequest request = ctx.request();
        if (request.method() != HttpMethod.POST) {
            ctx.response().putHeader(HttpHeaders.ALLOW, "POST");
            ErrorMappers.respond(ctx, mapper, 405, new ErrorBody("method not allowed"));
            return;
        }
        long max = config.execute().maxRequestSize().asLongValue();
        String tooLarge = "the request body is larger than " + Sizes.human(max);
        Sandbox sandbox;
        try {
            sandbox = sandboxId == null ? sandboxes.defaultSandbox() : sandboxes.get(sandboxId);
            if (UploadRoute.contentLength(request.getHeader(HttpHeaders.CONTENT_LENGTH)) > max) {
                throw new ServiceException(413, tooLarge);
            }
        } catch (ServiceException e) {
            ErrorMappers.refuse(ctx, mapper, e);
            return;
        }
        Buffer body = Buffer.buffer();
        boolean[] refused = {false};
        request.handler(chunk -> {
            if (refused[0]) {
                return;
            }
            if (body.length() + chunk.length() > max) {
                refused[0] = true; // chunked and too long: answer now, never hold more than max
                ErrorMappers.refuse(ctx, mapper, new ServiceException(413, tooLarge));
                return;
            }
            body.appendBuffer(chunk);
        });
        request.exceptionHandler(e -> refused[0] = true);
        request.endHandler(v -> {
            if (!refused[0]) {
                start(ctx, sandbox, body.getBytes());
            }
        });
        UploadRoute.continueIfExpected(request);
        request.resume();
    }

    private void start(RoutingContext ctx, Sandbox sandbox, byte[] body) {
        ExecuteRequests.ExecuteRequest request;
        try {
            request = requests.parse(body);
        } catch (ServiceException e) {
            ErrorMappers.respond(ctx, mapper, e.status(), new ErrorBody(e.getMessage()));
            return;
        }
        String format = format(ctx.request().getHeader(HttpHeaders.ACCEPT));
        Cancellation cancellation = new Cancellation();
        // Called when the response ends or the connection closes first: only the latter cancels.
        ctx.addEndHandler(ended -> {
            if (ended.failed()) {
                cancellation.cancel();
            }
        });
        ctx.vertx()
                .executeBlocking(
                        () -> {
                            run(ctx, sandbox, request, format, cancellation);
                            return null;
                        },
                        false);
    }

    /** Runs the execution on a worker thread; every write of the response happens here, in order. */
    private void run(
            RoutingContext ctx,
            Sandbox sandbox,
            ExecuteRequests.ExecuteRequest request,
            String format,
            Cancellation cancellation) {
        HttpServerResponse response = ctx.response();
        if (format == null) {
            try {
                ExecutionResult result = sandbox.execute(request.code(), request.timeout(), cancellation);
                if (!cancellation.cancelled()) {
                    ErrorMappers.respond(
                            ctx, mapper, 200, new ExecuteResponse(result.status(), result.events(), result.usage()));
                }
            } catch (RuntimeException e) {
                ErrorMappers.respond(ctx, mapper, e);
            }
            return;
        }
        EventStream stream = new EventStream(response, format);
        try {
            ExecutionResult result = sandbox.execute(request.code(), request.timeout(), stream, false, cancellation);
            stream.end(new End(result.status(), null, result.usage()));
        } catch (RuntimeException e) {
            if (!stream.started) {
                ErrorMappers.respond(ctx, mapper, e);
            } else {
                LOG.warnf("execution stream failed: %s", e.getMessage());
                stream.end(new End(ExecutionResult.ERROR, e.getMessage(), null));
            }
        }
    }

    /** The streaming media type the client asked for, or null for plain JSON. */
    static String format(String accept) {
        if (accept == null) {
            return null;
        }
        String lower = accept.toLowerCase(java.util.Locale.ROOT);
        int ndjson = lower.indexOf(NDJSON);
        int sse = lower.indexOf(SSE);
        if (ndjson < 0 && sse < 0) {
            return null;
        }
        if (ndjson < 0) {
            return SSE;
        }
        return sse < 0 || ndjson < sse ? NDJSON : SSE; // the first one named wins
    }

    /** Writes events as NDJSON lines or SSE messages the moment they happen. */
    private final class EventStream implements ExecutionListener {
        private final HttpServerResponse response;
        private final boolean sse;
        private boolean started;

        EventStream(HttpServerResponse response, String format) {
            this.response = response;
            this.sse = format.equals(SSE);
        }

        @Override
        public void started() {
            if (response.closed()) {
                return;
            }
            started = true;
            response.setStatusCode(200)
                    .setChunked(true)
                    .putHeader(HttpHeaders.CONTENT_TYPE, sse ? SSE + "; charset=utf-8" : NDJSON)
                    .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
                    .putHeader("X-Accel-Buffering", "no"); // proxies such as nginx must not hold lines back
            response.write(sse ? ": started\n\n" : ""); // sends the headers now
        }

        @Override
        public void event(Event event) {
            write(event.type(), event);
        }

        void end(End end) {
            if (!started) {
                started();
            }
            write("done", end);
            if (!response.closed() && !response.ended()) {
                response.end();
            }
        }

        private void write(String name, Object value) {
            if (response.closed() || response.ended()) {
                return;
            }
            String json;
            try {
                json = mapper.writeValueAsString(value);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("cannot serialise an event", e);
            }
            response.write(sse ? "event: " + name + "\ndata: " + json + "\n\n" : json + "\n");
        }
    }
}
