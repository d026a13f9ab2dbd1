package dev.interpretersandbox.api;

import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** GET /files/download/-/*path from the default sandbox's /mnt/data (uploads: {@link UploadRoute}). */
@Path("/files")
public class FilesResource {

    private final SandboxService sandboxes;

    public FilesResource(SandboxService sandboxes) {
        this.sandboxes = sandboxes;
    }

    @GET
    @Path("/download/-/{path: .*}")
    public Response download(@PathParam("path") String path) throws IOException {
        return download(sandboxes.defaultSandbox(), WorkspacePath.parse(path));
    }

    /** Streams a file of sandbox's workspace; shared with /sandboxes/{id}/files/download. */
    static Response download(Sandbox sandbox, WorkspacePath source) throws IOException {
        Workspace.Download download = sandbox.download(source);
        StreamingOutput stream = output -> {
            long sent = 0;
            try (var channel = download.channel()) {
                // Large array writes: Channels.newChannel(output) would cut them into 8 KiB pieces.
                byte[] bytes = new byte[256 * 1024];
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                long remaining = download.size();
                while (remaining > 0) {
                    buffer.clear().limit((int) Math.min(bytes.length, remaining));
                    int read = channel.read(buffer);
                    if (read < 0) {
                        break; // shrank while we sent it: the client sees a short body
                    }
                    output.write(bytes, 0, read);
                    remaining -= read;
                    sent += read;
                }
            } finally {
                sandbox.transferEnded(sent);
            }
        };
        return Response.ok(stream, download.contentType())
                .header("Content-Disposition", "attachment; filename*=UTF-8''" + rfc5987(download.name()))
                .header("Content-Length", download.size())
                .build();
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
