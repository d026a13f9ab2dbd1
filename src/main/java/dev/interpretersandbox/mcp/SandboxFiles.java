package dev.interpretersandbox.mcp;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.sandbox.Sandbox;
import io.quarkiverse.mcp.server.BlobResourceContents;
import io.quarkiverse.mcp.server.McpConnection;
import io.quarkiverse.mcp.server.McpException;
import io.quarkiverse.mcp.server.RequestUri;
import io.quarkiverse.mcp.server.Resource;
import io.quarkiverse.mcp.server.ResourceResponse;
import io.quarkiverse.mcp.server.ResourceTemplate;
import io.quarkiverse.mcp.server.TextResourceContents;
import java.io.IOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * The session's files as MCP resources: {@code sandbox://files} lists them (one
 * {@code sandbox://files/<path>} URI per line, nested paths with their slashes percent-encoded, as
 * the extension's templates match one segment), and {@code sandbox://files/{path}} reads one.
 * Text comes back as text, anything else as a blob; the same race-free workspace code and size
 * limit as read_file.
 */
class SandboxFiles {

    static final String ROOT = "sandbox://files";
    private static final long MAX = 5 << 20;
    private static final int MAX_LISTED = 1000;

    private final McpSessions sessions;

    SandboxFiles(McpSessions sessions) {
        this.sessions = sessions;
    }

    @Resource(
            uri = ROOT,
            name = "files",
            description = "Every file in this session's sandbox (/mnt/data), one resource URI per line.",
            mimeType = "text/plain")
    ResourceResponse files(McpConnection connection, RequestUri uri) {
        Sandbox sandbox = sandbox(connection);
        List<String> lines = new ArrayList<>();
        try {
            sandbox.withWorkspace(workspace -> {
                for (Workspace.Entry entry : workspace.list(WorkspacePath.parse(WorkspacePath.MOUNT), 64, MAX_LISTED)) {
                    if (entry.type() == Workspace.EntryType.FILE) {
                        lines.add(ROOT + "/"
                                + URLEncoder.encode(
                                        String.join("/", entry.path().components()), StandardCharsets.UTF_8));
                    }
                }
                return null;
            });
        } catch (IOException e) {
            throw new McpException("cannot list the files: " + e.getMessage(), -32603);
        }
        return new ResourceResponse(List.of(TextResourceContents.create(uri.value(), String.join("\n", lines))));
    }

    @ResourceTemplate(
            uriTemplate = ROOT + "/{path}",
            name = "file",
            description = "One file of this session's sandbox, by its path under /mnt/data (slashes as %2F).",
            mimeType = "application/octet-stream")
    ResourceResponse file(String path, McpConnection connection, RequestUri uri) {
        WorkspacePath file;
        try {
            file = WorkspacePath.parse(WorkspacePath.MOUNT + "/" + URLDecoder.decode(path, StandardCharsets.UTF_8));
        } catch (SandboxException | IllegalArgumentException e) {
            throw new McpException("not a file of this sandbox: " + e.getMessage(), -32602);
        }
        Sandbox sandbox = sandbox(connection);
        try (Workspace.Download download = sandbox.openDownload(file)) {
            if (download.size() > MAX) {
                throw new McpException(file + " is larger than " + MAX + " bytes: download it over HTTP", -32602);
            }
            ByteBuffer bytes = ByteBuffer.allocate((int) download.size());
            while (bytes.hasRemaining() && download.channel().read(bytes) > 0) {
                // read it all
            }
            download.sent(bytes.position());
            bytes.flip();
            String type = download.contentType();
            byte[] raw = new byte[bytes.remaining()];
            bytes.duplicate().get(raw);
            try {
                String text = StandardCharsets.UTF_8.newDecoder().decode(bytes).toString();
                return new ResourceResponse(List.of(new TextResourceContents(uri.value(), text, type)));
            } catch (CharacterCodingException e) {
                return new ResourceResponse(List.of(new BlobResourceContents(
                        uri.value(), Base64.getEncoder().encodeToString(raw), type)));
            }
        } catch (SandboxException e) {
            throw new McpException(e.getMessage(), e.kind() == SandboxException.Kind.NOT_FOUND ? -32002 : -32602);
        } catch (IOException e) {
            throw new McpException("cannot read " + file + ": " + e.getMessage(), -32603);
        }
    }

    private Sandbox sandbox(McpConnection connection) {
        try {
            return sessions.sandbox(connection.id(), null).toCompletableFuture().join();
        } catch (RuntimeException e) {
            throw new McpException(
                    "this session has no sandbox: " + SandboxException.of(e).getMessage(), -32603);
        }
    }
}
