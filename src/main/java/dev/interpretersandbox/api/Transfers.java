package dev.interpretersandbox.api;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.Workers;
import io.smallrye.mutiny.Uni;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.Response;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * Uploads and downloads of a sandbox's workspace, for both the seed paths and the per-sandbox
 * ones. Neither holds an HTTP worker thread: opening files (the race-free walk) runs on the
 * execution threads, an upload's body streams through {@link UploadStream}, and a download is
 * sent with sendfile from a private, unredirectable path to the very file that was opened.
 */
@ApplicationScoped
class Transfers {

    /** Uploaded: where the file is, as sandbox code sees it, and its size. */
    record Uploaded(String path, long size) {}

    private final Workers workers;
    private final SandboxConfig config;

    Transfers(Workers workers, SandboxConfig config) {
        this.workers = workers;
        this.config = config;
    }

    /** POST .../files/upload/-/*path: 201 {path, size}; the body streams to disk. */
    Uni<Response> upload(Supplier<Sandbox> lookup, String rawPath, RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        request.pause(); // nothing is read until the file is open and the client may go on
        Sandbox sandbox;
        WorkspacePath path;
        long length;
        try {
            sandbox = lookup.get();
            path = WorkspacePath.parse(decode(rawPath));
            length = contentLength(request.getHeader(HttpHeaders.CONTENT_LENGTH));
        } catch (SandboxException e) {
            refuseUnread(ctx);
            throw e;
        }
        Context context = Vertx.currentContext();
        CompletableFuture<Workspace.Upload> opened = CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return sandbox.openUpload(path, length);
                    } catch (IOException e) {
                        throw new SandboxException(
                                SandboxException.Kind.INTERNAL, "cannot open the upload: " + e.getMessage(), e);
                    }
                },
                sandbox.uploadLine());
        CompletableFuture<Response> response = new CompletableFuture<>();
        opened.whenComplete((upload, failure) -> context.runOnContext(ignored -> {
            if (failure != null) {
                refuseUnread(ctx);
                response.completeExceptionally(unwrap(failure));
                return;
            }
            new UploadStream(
                            ctx,
                            context,
                            upload,
                            workers.execution(),
                            workers.timers(),
                            config.http().readStallTimeout())
                    .start()
                    .whenComplete((size, error) -> {
                        if (error != null) {
                            response.completeExceptionally(unwrap(error));
                        } else {
                            // No Response.created(uri): it resolves the URI against the current request,
                            // which a thread of ours does not have.
                            response.complete(Response.status(Response.Status.CREATED)
                                    .entity(new Uploaded(path.toString(), size))
                                    .build());
                        }
                    });
        }));
        return Uni.createFrom().completionStage(response);
    }

    /** An error before the body was read: answer, then close instead of reading the rest. */
    private static void refuseUnread(RoutingContext ctx) {
        if (!ctx.request().isEnded()) {
            BodyLimits.close(ctx);
        }
    }

    /**
     * GET .../files/download/-/*path: the file with its type, RFC 5987 name, length and
     * {@code nosniff} (a downloaded HTML file must not run as the service's origin).
     */
    Uni<Response> download(Sandbox sandbox, String rawPath, RoutingContext ctx) {
        WorkspacePath path = WorkspacePath.parse(decode(rawPath));
        CompletableFuture<Response> response = CompletableFuture.supplyAsync(
                () -> {
                    Workspace.Download download = null;
                    try {
                        download = sandbox.openDownload(path);
                        Path staged = download.stage();
                        Workspace.Download sending = download;
                        ctx.addEndHandler(ended -> {
                            if (ended.succeeded()) {
                                sending.sent(sending.size());
                            }
                            sending.close(); // removes the staged link, ends the transfer
                        });
                        return Response.ok(staged.toFile(), download.contentType())
                                .header(
                                        "Content-Disposition",
                                        "attachment; filename*=UTF-8''" + rfc5987(download.name()))
                                .header("X-Content-Type-Options", "nosniff")
                                .build();
                    } catch (IOException e) {
                        if (download != null) {
                            download.close();
                        }
                        throw new SandboxException(
                                SandboxException.Kind.INTERNAL, "cannot read the file: " + e.getMessage(), e);
                    } catch (RuntimeException e) {
                        if (download != null) {
                            download.close();
                        }
                        throw e;
                    }
                },
                workers.execution());
        return Uni.createFrom().completionStage(response);
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    /** The Content-Length header's value; -1 when absent (chunked); INVALID when not a length. */
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
            throw SandboxException.invalid("invalid Content-Length");
        }
    }

    /** Percent-decodes a raw URI path strictly as UTF-8 ('+' stays '+', as in paths). */
    static String decode(String raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) {
                    throw SandboxException.invalid("the path has an incomplete percent-escape");
                }
                int hi = Character.digit(raw.charAt(i + 1), 16);
                int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw SandboxException.invalid("the path has an invalid percent-escape");
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
            throw SandboxException.invalid("the path is not valid UTF-8");
        }
    }

    /** RFC 5987 ext-value: attr-chars stay, every other UTF-8 byte is percent-encoded. */
    static String rfc5987(String name) {
        StringBuilder out = new StringBuilder();
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xFF;
            if ((c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || "!#$&+-.^_`|~".indexOf(c) >= 0) {
                out.append((char) c);
            } else {
                out.append('%')
                        .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
            }
        }
        return out.toString();
    }
}
