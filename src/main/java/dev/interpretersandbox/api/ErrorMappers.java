package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.error.ServiceException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * The one place where failures become HTTP statuses with {@code {"error": ...}} bodies: JAX-RS
 * resources through the mappers, the Vert.x routes (execute, upload) through the static helpers.
 */
class ErrorMappers {

    private static final Logger LOG = Logger.getLogger(ErrorMappers.class);

    @ServerExceptionMapper
    Response service(ServiceException e) {
        Response.ResponseBuilder response = Response.status(e.status())
                .type(MediaType.APPLICATION_JSON_TYPE)
                .entity(body(e));
        if (e.retryAfterSeconds() >= 0) {
            response.header("Retry-After", e.retryAfterSeconds());
        }
        return response.build();
    }

    /** {"error": message} plus the exception's details (e.g. reason and removed_at for a 410). */
    static Object body(ServiceException e) {
        if (e.details().isEmpty()) {
            return new ErrorBody(e.getMessage());
        }
        java.util.Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("error", e.getMessage());
        body.putAll(e.details());
        return body;
    }

    @ServerExceptionMapper
    Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        String message = switch (status) {
            case 404 -> "not found";
            case 405 -> "method not allowed";
            case 406 -> "not acceptable";
            case 415 -> "unsupported media type";
            default ->
                e.getMessage() == null ? Response.Status.fromStatusCode(status).getReasonPhrase() : e.getMessage();
        };
        return error(status, message);
    }

    @ServerExceptionMapper
    Response unexpected(Exception e) {
        LOG.error("unexpected failure", e);
        return error(
                500,
                "internal error: " + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }

    /** A route's failure as a response: a {@link ServiceException} keeps its status, anything else is a 500. */
    static void respond(RoutingContext ctx, ObjectMapper mapper, RuntimeException e) {
        if (e instanceof ServiceException service) {
            if (service.retryAfterSeconds() >= 0) {
                ctx.response().putHeader("Retry-After", Long.toString(service.retryAfterSeconds()));
            }
            respond(ctx, mapper, service.status(), body(service));
        } else {
            LOG.error("unexpected failure", e);
            respond(
                    ctx,
                    mapper,
                    500,
                    new ErrorBody("internal error: " + e.getClass().getSimpleName()));
        }
    }

    /** Refuses a request whose body has not been read: answer, then close instead of reading the rest. */
    static void refuse(RoutingContext ctx, ObjectMapper mapper, ServiceException e) {
        if (!ctx.request().isEnded()) {
            ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
            ctx.response().endHandler(v -> ctx.request().connection().close());
        }
        respond(ctx, mapper, e);
    }

    /** Sends body as JSON with status, unless the response is already over (client gone). */
    static void respond(RoutingContext ctx, ObjectMapper mapper, int status, Object body) {
        HttpServerResponse response = ctx.response();
        if (response.ended() || response.closed()) {
            return;
        }
        try {
            response.setStatusCode(status)
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(Buffer.buffer(mapper.writeValueAsBytes(body)));
        } catch (Exception e) {
            LOG.warnf("cannot send a response: %s", e.getMessage());
            if (!response.ended() && !response.closed() && !response.headWritten()) {
                response.setStatusCode(500).end();
            }
        }
    }

    static Response error(int status, String message) {
        return Response.status(status)
                .type(MediaType.APPLICATION_JSON_TYPE)
                .entity(new ErrorBody(message))
                .build();
    }
}
