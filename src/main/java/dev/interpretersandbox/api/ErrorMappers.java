package dev.interpretersandbox.api;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.log.LogSafe;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/**
 * The one place where failures become HTTP statuses with {@code {"error": ...}} bodies: the
 * domain's {@link SandboxException} kinds, the framework's own refusals (404, 405, 406, 415), and
 * anything unexpected (500, logged).
 */
public class ErrorMappers {

    private static final Logger LOG = Logger.getLogger(ErrorMappers.class);

    /** The HTTP status of each kind of domain error. */
    public static int status(SandboxException.Kind kind) {
        return switch (kind) {
            case INVALID -> 400;
            case FORBIDDEN -> 403;
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case GONE -> 410;
            case TOO_LARGE -> 413;
            case BUSY -> 429;
            case UNAVAILABLE -> 503;
            case INTERNAL -> 500;
        };
    }

    @ServerExceptionMapper
    Response sandbox(SandboxException e) {
        return response(e);
    }

    static Response response(SandboxException e) {
        Response.ResponseBuilder response = Response.status(status(e.kind()))
                .type(MediaType.APPLICATION_JSON_TYPE)
                .entity(body(e));
        e.retryAfter().ifPresent(after -> response.header("Retry-After", Math.max(1, after.toSeconds())));
        return response.build();
    }

    /** {"error": message} plus the exception's details (e.g. reason and removed_at for a 410). */
    static Object body(SandboxException e) {
        if (e.details().isEmpty()) {
            return new ErrorBody(e.getMessage());
        }
        Map<String, Object> body = new LinkedHashMap<>();
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
        Response.ResponseBuilder response =
                Response.status(status).type(MediaType.APPLICATION_JSON_TYPE).entity(new ErrorBody(message));
        e.getResponse().getHeaders().forEach((name, values) -> {
            if (name.equalsIgnoreCase("Allow")) {
                values.forEach(value -> response.header(name, value));
            }
        });
        return response.build();
    }

    @ServerExceptionMapper
    Response unexpected(Exception e) {
        LOG.errorf(e, "unexpected failure: %s", LogSafe.quote(e.getMessage()));
        return Response.status(500)
                .type(MediaType.APPLICATION_JSON_TYPE)
                .entity(new ErrorBody("internal error: " + e.getClass().getSimpleName()))
                .build();
    }
}
