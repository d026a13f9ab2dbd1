package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * POST /files/upload/-/*path. A Vert.x route rather than a JAX-RS resource because the body must
 * stream to disk: Quarkus REST hands an InputStream parameter only after buffering the whole body,
 * which a 1 GiB upload cannot afford. Still thin: parse, delegate, map errors like
 * {@link ErrorMappers}.
 */
@ApplicationScoped
class UploadRoute {

    static final String PREFIX = "/files/upload/-";

    /** Uploaded: where the file is, as sandbox code sees it, and its size. */
    record Uploaded(String path, long size) {}

    private final SandboxService sandboxes;
    private final ObjectMapper mapper;

    UploadRoute(SandboxService sandboxes, ObjectMapper mapper) {
        this.sandboxes = sandboxes;
        this.mapper = mapper;
    }

    void register(@Observes Router router) {
        router.post(PREFIX + "/*").order(-100).handler(ctx -> upload(ctx, null, PREFIX));
        router.postWithRegex(SANDBOX_PREFIX).order(-100).handler(ctx -> upload(ctx, ctx.pathParam("param0"), null));
    }

    /** /sandboxes/{id}/files/upload/-/*path; the id is checked by the sandbox registry. */
    static final String SANDBOX_PREFIX = "/sandboxes/([^/]+)/files/upload/-/.*";

    void upload(RoutingContext ctx, String sandboxId, String prefix) {
        HttpServerRequest request = ctx.request();
        WorkspacePath path;
        long length;
        Sandbox sandbox;
        try {
            String raw = request.path();
            String rest = prefix != null
                    ? raw.substring(prefix.length())
                    : raw.substring(raw.indexOf("/files/upload/-") + 15);
            path = WorkspacePath.parse(decode(rest));
            length = contentLength(request.getHeader(HttpHeaders.CONTENT_LENGTH));
            sandbox = sandboxId == null ? sandboxes.defaultSandbox() : sandboxes.get(sandboxId);
        } catch (ServiceException e) {
            ErrorMappers.refuse(ctx, mapper, e);
            return;
        }
        Context context = Vertx.currentContext();
        RequestBodyStream body = new RequestBodyStream(request, context, Duration.ofMinutes(2));
        continueIfExpected(request);
        ctx.vertx()
                .<Uploaded>executeBlocking(
                        () -> new Uploaded(path.toString(), sandbox.upload(path, body, length)), false)
                .onComplete(result -> {
                    body.abandon();
                    if (result.succeeded()) {
                        ErrorMappers.respond(ctx, mapper, 201, result.result());
                    } else if (result.cause() instanceof ServiceException e) {
                        ErrorMappers.refuse(ctx, mapper, e);
                    } else {
                        ErrorMappers.refuse(
                                ctx,
                                mapper,
                                new ServiceException(
                                        500, "upload failed: " + result.cause().getMessage()));
                    }
                });
    }

    /** Answers {@code Expect: 100-continue}, so clients that wait for it send the body we read. */
    static void continueIfExpected(HttpServerRequest request) {
        if ("100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT))) {
            request.response().writeContinue();
        }
    }

    /** The Content-Length header's value; -1 when absent (chunked); 400 when not a length. */
    static long contentLength(String header) {
        if (header == null || header.isBlank()) {
            return -1;
        }
        try {
            long value = Long.parseLong(header.strip());
            if (value < 0) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new ServiceException(400, "invalid Content-Length");
        }
    }

    /** Percent-decodes a raw URI path strictly as UTF-8 ('+' stays '+', as in paths). */
    static String decode(String raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) {
                    throw new ServiceException(400, "the path has an incomplete percent-escape");
                }
                int hi = Character.digit(raw.charAt(i + 1), 16);
                int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new ServiceException(400, "the path has an invalid percent-escape");
                }
                bytes.write(hi << 4 | lo);
                i += 2;
            } else {
                byte[] encoded = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                bytes.write(encoded, 0, encoded.length);
            }
        }
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray()))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ServiceException(400, "the path is not valid UTF-8");
        }
    }
}
