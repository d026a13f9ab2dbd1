package dev.interpretersandbox.mcp;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.sandbox.CollectingSink;
import dev.interpretersandbox.sandbox.CommandRun;
import dev.interpretersandbox.sandbox.CommandRuns;
import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.Execution;
import dev.interpretersandbox.sandbox.ExecutionRequest;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.Workers;
import io.quarkiverse.mcp.server.Cancellation;
import io.quarkiverse.mcp.server.Content;
import io.quarkiverse.mcp.server.ImageContent;
import io.quarkiverse.mcp.server.McpConnection;
import io.quarkiverse.mcp.server.Progress;
import io.quarkiverse.mcp.server.TextContent;
import io.quarkiverse.mcp.server.Tool;
import io.quarkiverse.mcp.server.ToolArg;
import io.quarkiverse.mcp.server.ToolCallException;
import io.quarkiverse.mcp.server.ToolResponse;
import io.smallrye.mutiny.Uni;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The MCP tools: Python in the session's sandbox, its files, shell commands and a kernel restart.
 * Descriptions are written for a model. Output is cut to sandbox.mcp.max-output-chars with a note,
 * since it goes into a model's context. Long calls send progress every second when the client
 * asked for it, and a cancellation interrupts the cell or kills the command.
 */
class SandboxTools {

    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;?]*[A-Za-z]");
    private static final long MAX_TEXT_FILE = 1 << 20;
    private static final long MAX_IMAGE_FILE = 5 << 20;
    private static final String SANDBOX_ID = "The id of a sandbox made with POST /sandboxes to work in instead of this"
            + " session's own sandbox. Leave it out normally.";

    private final McpSessions sessions;
    private final SandboxConfig config;
    private final Workers workers;
    private final CommandRuns commandRuns;

    SandboxTools(McpSessions sessions, SandboxConfig config, Workers workers, CommandRuns commandRuns) {
        this.commandRuns = commandRuns;
        this.sessions = sessions;
        this.config = config;
        this.workers = workers;
    }

    @Tool(
            name = "execute_python",
            description = "Run Python code in a stateful IPython kernel (variables, imports and files persist between"
                    + " calls). numpy, pandas and matplotlib are installed; there is no network. Files live in"
                    + " /mnt/data. Returns what was printed and the value of the last expression, and plots"
                    + " (plt.show()) as images. Errors come back with their traceback.")
    Uni<ToolResponse> execute_python(
            @ToolArg(description = "The Python code to run.") String code,
            @ToolArg(description = "Seconds before the code is interrupted (variables are kept).", required = false)
                    Double timeout_secs,
            @ToolArg(description = SANDBOX_ID, required = false) String sandbox_id,
            McpConnection connection,
            Progress progress,
            Cancellation cancellation) {
        Duration timeout = timeout(timeout_secs, config.execute().defaultTimeout());
        return Uni.createFrom()
                .completionStage(() -> sessions.sandbox(connection.id(), sandbox_id))
                .chain(sandbox -> {
                    CollectingSink sink = new CollectingSink();
                    Execution execution = sandbox.execute(new ExecutionRequest(code, timeout, true), sink);
                    return watched(sink.result(), progress, cancellation, execution::cancel, "running")
                            .map(result -> render(sink.events(), result, timeout));
                })
                .onFailure(SandboxException.class)
                .recoverWithItem(e -> ToolResponse.error(e.getMessage()));
    }

    @Tool(
            name = "run_command",
            description = "Run a shell command (bash) in the sandbox, next to the Python kernel, as the sandbox user,"
                    + " in /mnt/data unless cwd says otherwise. Returns its output and exit code. Use it for"
                    + " pip list, find, du, git and the like; no network, no stdin.")
    Uni<ToolResponse> run_command(
            @ToolArg(description = "The command line, run with bash -l -c.") String cmd,
            @ToolArg(description = "Working directory under /mnt/data.", required = false) String cwd,
            @ToolArg(description = "Seconds before the command is stopped.", required = false) Double timeout_secs,
            @ToolArg(description = SANDBOX_ID, required = false) String sandbox_id,
            McpConnection connection,
            Progress progress,
            Cancellation cancellation) {
        if (cmd == null || cmd.isBlank() || cmd.indexOf('\0') >= 0) {
            throw new ToolCallException("cmd must be a non-empty command line");
        }
        WorkspacePath directory = path(cwd == null || cwd.isBlank() ? WorkspacePath.MOUNT : cwd);
        Duration timeout = timeout(timeout_secs, config.execute().defaultTimeout());
        return Uni.createFrom()
                .completionStage(() -> sessions.sandbox(connection.id(), sandbox_id))
                .chain(sandbox -> Uni.createFrom()
                        .completionStage(sandbox.startCommand(new CommandSpec(cmd, directory.components(), Map.of()))))
                .chain(command -> {
                    CollectingSink sink = new CollectingSink();
                    CommandRun run = commandRuns.of(command, sink, true);
                    run.start(timeout);
                    return watched(sink.result(), progress, cancellation, run::cancel, "command running")
                            .map(result -> renderCommand(sink.events(), result, timeout));
                })
                .onFailure(SandboxException.class)
                .recoverWithItem(e -> ToolResponse.error(e.getMessage()));
    }

    @Tool(
            name = "list_files",
            description = "List a directory of the sandbox's workspace (/mnt/data): one line per entry with its"
                    + " type, size in bytes and name.")
    Uni<ToolResponse> list_files(
            @ToolArg(description = "Directory under /mnt/data; defaults to /mnt/data.", required = false) String path,
            @ToolArg(description = SANDBOX_ID, required = false) String sandbox_id,
            McpConnection connection) {
        WorkspacePath dir = path(path == null || path.isBlank() ? WorkspacePath.MOUNT : path);
        return onWorkspace(connection, sandbox_id, workspace -> {
            List<Workspace.Entry> entries = workspace.list(dir, 1, 1000);
            StringBuilder text = new StringBuilder(dir + ":\n");
            for (Workspace.Entry entry : entries) {
                text.append(
                                switch (entry.type()) {
                                    case DIRECTORY -> "dir ";
                                    case SYMLINK -> "link";
                                    default -> "file";
                                })
                        .append(String.format("%12d  ", entry.size()))
                        .append(entry.name())
                        .append('\n');
            }
            if (entries.isEmpty()) {
                text.append("(empty)\n");
            }
            return ToolResponse.success(text.toString());
        });
    }

    @Tool(
            name = "read_file",
            description = "Read a file of the sandbox's workspace (/mnt/data): text comes back as text, PNG, JPEG,"
                    + " GIF and WebP images as images. Text files over 1 MiB and images over 5 MiB are refused: read"
                    + " them in parts with execute_python, or download them over HTTP.")
    Uni<ToolResponse> read_file(
            @ToolArg(description = "Path of the file under /mnt/data.") String path,
            @ToolArg(description = SANDBOX_ID, required = false) String sandbox_id,
            McpConnection connection) {
        WorkspacePath file = path(path);
        return Uni.createFrom()
                .completionStage(() -> sessions.sandbox(connection.id(), sandbox_id))
                .chain(sandbox -> Uni.createFrom()
                        .completionStage(CompletableFuture.supplyAsync(() -> read(sandbox, file), workers.execution())))
                .onFailure(SandboxException.class)
                .recoverWithItem(e -> ToolResponse.error(e.getMessage()));
    }

    @Tool(
            name = "write_file",
            description = "Write a text file in the sandbox's workspace (/mnt/data), replacing it if it exists;"
                    + " parent directories are made. The Python code sees it at the same path.")
    Uni<ToolResponse> write_file(
            @ToolArg(description = "Path of the file under /mnt/data.") String path,
            @ToolArg(description = "The whole content, as text (UTF-8).") String content,
            @ToolArg(description = SANDBOX_ID, required = false) String sandbox_id,
            McpConnection connection) {
        WorkspacePath file = path(path);
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        return Uni.createFrom()
                .completionStage(() -> sessions.sandbox(connection.id(), sandbox_id))
                .chain(sandbox -> Uni.createFrom()
                        .completionStage(CompletableFuture.supplyAsync(
                                () -> {
                                    try (Workspace.Upload upload = sandbox.openUpload(file, bytes.length, true)) {
                                        upload.write(ByteBuffer.wrap(bytes));
                                        upload.commit();
                                        return ToolResponse.success("wrote " + bytes.length + " bytes to " + file);
                                    } catch (IOException e) {
                                        throw new SandboxException(SandboxException.Kind.INTERNAL, e.getMessage(), e);
                                    }
                                },
                                sandbox.uploadLine())))
                .onFailure(SandboxException.class)
                .recoverWithItem(e -> ToolResponse.error(e.getMessage()));
    }

    @Tool(
            name = "restart_kernel",
            description = "Restart the Python kernel: all variables and imports are lost, files in /mnt/data are"
                    + " kept. Use it when the kernel is stuck or its state is broken.")
    Uni<ToolResponse> restart_kernel(
            @ToolArg(description = SANDBOX_ID, required = false) String sandbox_id, McpConnection connection) {
        return Uni.createFrom()
                .completionStage(() -> sessions.sandbox(connection.id(), sandbox_id))
                .chain(sandbox -> Uni.createFrom().completionStage(sandbox.restart()))
                .map(ignored -> ToolResponse.success(
                        "The kernel was restarted: variables and imports are gone, files in /mnt/data are kept."))
                .onFailure(SandboxException.class)
                .recoverWithItem(e -> ToolResponse.error(e.getMessage()));
    }

    // ---- helpers ------------------------------------------------------------------------------

    private interface WorkspaceWork {
        ToolResponse run(Workspace workspace) throws IOException;
    }

    private Uni<ToolResponse> onWorkspace(McpConnection connection, String sandboxId, WorkspaceWork work) {
        return Uni.createFrom()
                .completionStage(() -> sessions.sandbox(connection.id(), sandboxId))
                .chain(sandbox -> Uni.createFrom()
                        .completionStage(CompletableFuture.supplyAsync(
                                () -> {
                                    try {
                                        return sandbox.withWorkspace(work::run);
                                    } catch (IOException e) {
                                        throw new SandboxException(SandboxException.Kind.INTERNAL, e.getMessage(), e);
                                    }
                                },
                                workers.execution())))
                .onFailure(SandboxException.class)
                .recoverWithItem(e -> ToolResponse.error(e.getMessage()));
    }

    /** Waits for done; meanwhile progress each second (when asked for) and cancellation polled. */
    private <T> Uni<T> watched(
            CompletionStage<T> done, Progress progress, Cancellation cancellation, Runnable cancel, String what) {
        long started = System.nanoTime();
        ScheduledFuture<?> ticks = workers.timers()
                .scheduleWithFixedDelay(
                        () -> {
                            if (cancellation.check().isRequested()) {
                                cancel.run();
                                return;
                            }
                            if (progress.token().isPresent()) {
                                long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
                                progress.notificationBuilder()
                                        .setProgress(seconds)
                                        .setMessage(what + " for " + seconds + " s")
                                        .build()
                                        .sendAndForget();
                            }
                        },
                        1,
                        1,
                        TimeUnit.SECONDS);
        return Uni.createFrom().completionStage(done).onTermination().invoke(() -> ticks.cancel(false));
    }

    private ToolResponse render(List<Event> events, ExecutionResult result, Duration timeout) {
        StringBuilder text = new StringBuilder();
        List<Content> images = new ArrayList<>();
        boolean failed = false;
        for (Event event : events) {
            if (event.data() instanceof Event.Stream stream) {
                text.append(stream.text());
            } else if (event.data() instanceof Event.Display display) {
                String png = display.variants().path("image/png").asText(null);
                String jpeg = display.variants().path("image/jpeg").asText(null);
                if (png != null) {
                    images.add(new ImageContent(png, "image/png"));
                } else if (jpeg != null) {
                    images.add(new ImageContent(jpeg, "image/jpeg"));
                } else if (display.variants().has("text/plain")) {
                    text.append(display.variants().get("text/plain").asText()).append('\n');
                }
            } else if (event.data() instanceof Event.Error error) {
                failed = true;
                text.append(plain(String.join("\n", error.traceback())));
                if (error.traceback().isEmpty()) {
                    text.append(error.ename()).append(": ").append(error.evalue());
                }
                text.append('\n');
            }
        }
        if (result.status() == ExecutionStatus.TIMEOUT) {
            failed = true;
            text.append("[timed out after ")
                    .append(timeout.toSeconds())
                    .append(" s: the code was interrupted; variables are kept]\n");
        } else if (result.status() == ExecutionStatus.CANCELLED) {
            failed = true;
            text.append("[cancelled: the code was interrupted; variables are kept]\n");
        }
        return respond(text, images, failed);
    }

    private ToolResponse renderCommand(List<Event> events, ExecutionResult result, Duration timeout) {
        StringBuilder text = new StringBuilder();
        for (Event event : events) {
            if (event.data() instanceof Event.Stream stream) {
                text.append(stream.text());
            }
        }
        int code = result.exitCode() == null ? -1 : result.exitCode();
        boolean failed = code != 0 || result.status() != ExecutionStatus.OK;
        if (result.status() == ExecutionStatus.TIMEOUT) {
            text.append("[timed out after ").append(timeout.toSeconds()).append(" s: the command was stopped]\n");
        } else if (result.status() == ExecutionStatus.CANCELLED) {
            text.append("[cancelled: the command was stopped]\n");
        }
        text.append("[exit code ").append(code).append("]");
        return respond(text, List.of(), failed);
    }

    /** Text first (cut to the cap with a note), then the images. */
    private ToolResponse respond(StringBuilder text, List<Content> images, boolean failed) {
        int cap = config.mcp().maxOutputChars();
        String shown = text.toString();
        if (shown.length() > cap) {
            shown = shown.substring(0, cap) + "\n[output truncated: " + (shown.length() - cap)
                    + " more characters; print less, or write the full result to a file and read it in parts]";
        }
        List<Content> content = new ArrayList<>();
        if (!shown.isEmpty() || images.isEmpty()) {
            content.add(new TextContent(shown.isEmpty() ? "(no output)" : shown));
        }
        content.addAll(images);
        return new ToolResponse(failed, content, null, null);
    }

    private ToolResponse read(Sandbox sandbox, WorkspacePath file) {
        try (Workspace.Download download = sandbox.openDownload(file)) {
            String type = download.contentType();
            boolean image = type.startsWith("image/") && !type.equals("image/svg+xml");
            long max = image ? MAX_IMAGE_FILE : MAX_TEXT_FILE;
            if (download.size() > max) {
                return ToolResponse.error(file + " is " + download.size() + " bytes, more than " + max
                        + " can be read here: read it in parts with execute_python, or download it over HTTP"
                        + " (GET /sandboxes/" + sandbox.id() + "/files/download/-" + file + ")");
            }
            ByteBuffer bytes = ByteBuffer.allocate((int) download.size());
            while (bytes.hasRemaining() && download.channel().read(bytes) > 0) {
                // read it all
            }
            download.sent(bytes.position());
            bytes.flip();
            if (image) {
                byte[] raw = new byte[bytes.remaining()];
                bytes.get(raw);
                return ToolResponse.success(
                        List.of(new ImageContent(Base64.getEncoder().encodeToString(raw), type)));
            }
            try {
                return ToolResponse.success(
                        StandardCharsets.UTF_8.newDecoder().decode(bytes).toString());
            } catch (CharacterCodingException e) {
                return ToolResponse.error(
                        file + " is not UTF-8 text: read it with execute_python, or download it" + " over HTTP");
            }
        } catch (IOException e) {
            throw new SandboxException(
                    SandboxException.Kind.INTERNAL, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static WorkspacePath path(String raw) {
        try {
            return WorkspacePath.parse(raw);
        } catch (SandboxException e) {
            throw new ToolCallException(e.getMessage());
        }
    }

    private Duration timeout(Double seconds, Duration fallback) {
        if (seconds == null) {
            return fallback;
        }
        Duration max = config.execute().maxTimeout();
        if (!(seconds > 0) || seconds > max.toSeconds()) {
            throw new ToolCallException("timeout_secs must be above 0 and at most " + max.toSeconds());
        }
        return Duration.ofMillis((long) (seconds * 1000));
    }

    static String plain(String text) {
        return ANSI.matcher(text).replaceAll("");
    }
}
