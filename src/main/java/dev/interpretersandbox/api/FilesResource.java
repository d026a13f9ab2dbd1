package dev.interpretersandbox.api;

import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;

/** File transfer to and from the default sandbox's /mnt/data. */
@Path("/files")
public class FilesResource {

    public record Uploaded(String path, long size) {}

    private final SandboxService sandboxes;

    public FilesResource(SandboxService sandboxes) {
        this.sandboxes = sandboxes;
    }

    @POST
    @Path("/upload/-/{path: .*}")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    public Response upload(
            @PathParam("path") String path, @HeaderParam("Content-Length") String contentLength, InputStream body)
            throws IOException {
        WorkspacePath target = WorkspacePath.parse(path);
        long size = sandboxes.defaultSandbox().upload(target, body, length(contentLength));
        return Response.status(201)
                .entity(new Uploaded(target.toString(), size))
                .build();
    }

    @GET
    @Path("/download/-/{path: .*}")
    public Response download(@PathParam("path") String path) throws IOException {
        WorkspacePath source = WorkspacePath.parse(path);
        Sandbox sandbox = sandboxes.defaultSandbox();
        Workspace.Download download = sandbox.download(source);
        StreamingOutput stream = output -> {
            try (var channel = download.channel()) {
                WritableByteChannel out = Channels.newChannel(output);
                ByteBuffer buffer = ByteBuffer.allocate(256 * 1024);
                long remaining = download.size();
                while (remaining > 0) {
                    buffer.clear();
                    if (buffer.capacity() > remaining) {
                        buffer.limit((int) remaining);
                    }
                    int read = channel.read(buffer);
                    if (read < 0) {
                        break; // shrank while we sent it: the client sees a short body
                    }
                    buffer.flip();
                    while (buffer.hasRemaining()) {
                        out.write(buffer);
                    }
                    remaining -= read;
                }
            } finally {
                sandbox.transferEnded();
            }
        };
        return Response.ok(stream, download.contentType())
                .header("Content-Disposition", "attachment; filename*=UTF-8''" + rfc5987(download.name()))
                .header("Content-Length", download.size())
                .build();
    }

    private static long length(String header) {
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
