package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.api.BodyLimits;
import dev.interpretersandbox.api.SandboxRequests;
import dev.interpretersandbox.api.StrictJson;
import dev.interpretersandbox.api.UploadStream;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.sandbox.CommandRun;
import dev.interpretersandbox.sandbox.CommandRuns;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.Workers;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.streams.ReadStream;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * envd's side of an E2B sandbox (port 49983): health, files over REST, the filesystem service
 * and the process service over Connect RPC (JSON codec). Every path goes through the workspace's
 * race-free code: E2B's {@code /home/user} is the sandbox's {@code /mnt/data} (the same directory
 * inside the sandbox), relative paths are relative to it, and anything else gets the file API's
 * 403. Commands are the service's own (a second process next to the kernel).
 */
@ApplicationScoped
class EnvdPlane {

    static final String HOME = "/home/user";
    private static final int MAX_ENTRIES = 10_000;
    /** Files one multipart write may carry: each is an open file until its part is read. */
    private static final int MAX_PARTS = 100;

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final StrictJson json;
    private final Workers workers;
    private final CommandRuns commandRuns;

    EnvdPlane(SandboxConfig config, ObjectMapper mapper, Workers workers, CommandRuns commandRuns) {
        this.commandRuns = commandRuns;
        this.config = config;
        this.mapper = mapper;
        this.json = new StrictJson(mapper);
        this.workers = workers;
    }

    boolean handles(String path) {
        return path.equals("/health")
                || path.equals("/files")
                || path.startsWith("/filesystem.Filesystem/")
                || path.startsWith("/process.Process/");
    }

    void handle(RoutingContext ctx, Sandbox sandbox, String path, E2bReply reply) {
        HttpMethod method = ctx.request().method();
        if (path.equals("/health")) {
            reply.noContent();
        } else if (path.equals("/files") && method.equals(HttpMethod.GET)) {
            download(ctx, sandbox, reply);
        } else if (path.equals("/files") && method.equals(HttpMethod.POST)) {
            upload(ctx, sandbox, reply);
        } else if (!method.equals(HttpMethod.POST)) {
            reply.error(405, "Connect RPC calls are POSTs");
        } else if (path.equals("/process.Process/Start")) {
            reply.body(config.http().maxJsonBody().asLongValue(), body -> start(ctx, sandbox, body, reply));
        } else {
            String call = path.substring(1);
            reply.body(config.http().maxJsonBody().asLongValue(), body -> unary(sandbox, call, body, reply));
        }
    }

    // ---- paths -------------------------------------------------------------------------------

    /** E2B's path (absolute, or relative to /home/user) as a workspace path; 403 outside it. */
    static WorkspacePath path(String raw) {
        if (raw == null || raw.isEmpty()) {
            throw SandboxException.invalid("a path is required");
        }
        String path = raw.startsWith("/") ? raw : HOME + "/" + raw;
        if (path.equals(HOME) || path.startsWith(HOME + "/")) {
            path = WorkspacePath.MOUNT + path.substring(HOME.length());
        }
        try {
            return WorkspacePath.parse(path);
        } catch (SandboxException e) {
            if (e.kind() == SandboxException.Kind.FORBIDDEN) {
                throw new SandboxException(
                        SandboxException.Kind.FORBIDDEN,
                        "only files under " + HOME + " (the sandbox's " + WorkspacePath.MOUNT + ") can be accessed");
            }
            throw e;
        }
    }

    /** A workspace path as E2B shows it: under /home/user. */
    static String shown(WorkspacePath path) {
        return path.isRoot() ? HOME : HOME + "/" + String.join("/", path.components());
    }

    // ---- REST files --------------------------------------------------------------------------

    private void download(RoutingContext ctx, Sandbox sandbox, E2bReply reply) {
        WorkspacePath path = path(ctx.request().getParam("path"));
        CompletableFuture.supplyAsync(
                        () -> {
                            try {
                                Workspace.Download download = sandbox.openDownload(path);
                                try {
                                    return new Staged(download, download.stage());
                                } catch (IOException | RuntimeException e) {
                                    download.close();
                                    throw e;
                                }
                            } catch (IOException e) {
                                throw new SandboxException(
                                        SandboxException.Kind.INTERNAL, "cannot read the file: " + e.getMessage(), e);
                            }
                        },
                        workers.execution())
                .whenComplete((staged, failure) -> {
                    if (failure != null) {
                        reply.fail(failure);
                        return;
                    }
                    reply.run(() -> {
                        try {
                            ctx.response()
                                    .putHeader(
                                            HttpHeaders.CONTENT_TYPE,
                                            staged.download().contentType())
                                    .putHeader("X-Content-Type-Options", "nosniff")
                                    .sendFile(staged.file().toString())
                                    .onComplete(sent -> {
                                        if (sent.succeeded()) {
                                            staged.download()
                                                    .sent(staged.download().size());
                                        }
                                        staged.download().close();
                                    });
                        } catch (RuntimeException e) {
                            staged.download().close(); // the client left before the answer began
                        }
                    });
                });
    }

    private record Staged(Workspace.Download download, Path file) {}

    /**
     * POST /files: multipart (one "file" part per file; the part's file name is its path when the
     * query has none) or the raw bytes of one file. Each file streams to disk and replaces what
     * had its name; the answer lists them.
     */
    private void upload(RoutingContext ctx, Sandbox sandbox, E2bReply reply) {
        HttpServerRequest request = ctx.request();
        String encoding = request.getHeader(HttpHeaders.CONTENT_ENCODING);
        if (encoding != null && !encoding.equalsIgnoreCase("identity")) {
            throw SandboxException.invalid("compressed uploads (Content-Encoding: " + encoding + ") are not supported");
        }
        String query = request.getParam("path");
        String type =
                String.valueOf(request.getHeader(HttpHeaders.CONTENT_TYPE)).toLowerCase(Locale.ROOT);
        Context context = Vertx.currentContext();
        List<CompletableFuture<Map<String, Object>>> files = new ArrayList<>();
        if (type.startsWith("multipart/form-data")) {
            request.setExpectMultipart(true);
            request.uploadHandler(part -> {
                part.pause();
                if (files.size() >= MAX_PARTS) {
                    BodyLimits.close(ctx); // answered now; the rest is not read
                    reply.error(400, "at most " + MAX_PARTS + " files per request");
                    return;
                }
                String name = query != null ? query : part.filename();
                files.add(store(ctx, context, sandbox, name, part, reply));
            });
            // What the multipart decoder refuses (a form field over its 2 KiB, too many fields) is
            // the client's to fix: a 400, and the rest of the body is not read.
            request.exceptionHandler(e -> {
                BodyLimits.close(ctx);
                reply.fail(SandboxException.invalid("the multipart body could not be read: " + e.getMessage()));
            });
            request.endHandler(ended -> answer(files, reply));
            request.resume();
            return;
        }
        request.pause();
        files.add(store(ctx, context, sandbox, query, request, reply));
        answer(files, reply);
    }

    private CompletableFuture<Map<String, Object>> store(
            RoutingContext ctx,
            Context context,
            Sandbox sandbox,
            String name,
            ReadStream<Buffer> source,
            E2bReply reply) {
        CompletableFuture<Map<String, Object>> stored = new CompletableFuture<>();
        // The first file that fails answers at once and ends the request: the others would wait
        // for a body that is no longer read.
        stored.whenComplete((ok, failure) -> {
            if (failure != null) {
                reply.run(() -> BodyLimits.close(ctx));
                reply.fail(failure);
            }
        });
        WorkspacePath path;
        try {
            path = path(name);
        } catch (SandboxException e) {
            stored.completeExceptionally(e);
            return stored;
        }
        CompletableFuture.supplyAsync(
                        () -> {
                            try {
                                return sandbox.openUpload(path, -1, true);
                            } catch (IOException e) {
                                throw new SandboxException(
                                        SandboxException.Kind.INTERNAL, "cannot open the upload: " + e.getMessage(), e);
                            }
                        },
                        sandbox.uploadLine())
                .whenComplete((upload, failure) -> context.runOnContext(ignored -> {
                    if (failure != null) {
                        stored.completeExceptionally(failure);
                        return;
                    }
                    new UploadStream(
                                    ctx,
                                    source,
                                    context,
                                    upload,
                                    workers.execution(),
                                    workers.timers(),
                                    config.http().readStallTimeout())
                            .start()
                            .whenComplete((size, error) -> {
                                if (error != null) {
                                    stored.completeExceptionally(error);
                                    return;
                                }
                                Map<String, Object> info = new LinkedHashMap<>();
                                info.put("name", path.fileName());
                                info.put("type", "file");
                                info.put("path", shown(path));
                                stored.complete(info);
                            });
                }));
        return stored;
    }

    private static void answer(List<CompletableFuture<Map<String, Object>>> files, E2bReply reply) {
        if (files.isEmpty()) {
            reply.error(400, "no file in the request: send a multipart part named file, or the bytes with ?path=");
            return;
        }
        reply.after(
                CompletableFuture.allOf(files.toArray(CompletableFuture[]::new)),
                ignored -> reply.json(
                        200, files.stream().map(CompletableFuture::join).toList()));
    }

    // ---- Connect unary calls -----------------------------------------------------------------

    private void unary(Sandbox sandbox, String call, byte[] body, E2bReply reply) {
        JsonNode request = object(body);
        CompletableFuture.supplyAsync(() -> dispatch(sandbox, call, request), workers.execution())
                .whenComplete((answer, failure) -> {
                    if (failure != null) {
                        reply.fail(failure);
                    } else {
                        reply.json(200, answer);
                    }
                });
    }

    private Object dispatch(Sandbox sandbox, String call, JsonNode request) {
        try {
            return switch (call) {
                case "filesystem.Filesystem/Stat" ->
                    Map.of("entry", entry(sandbox.withWorkspace(w -> w.stat(path(text(request, "path"))))));
                case "filesystem.Filesystem/ListDir" -> {
                    int depth = request.path("depth").asInt(1);
                    if (depth < 1) {
                        throw SandboxException.invalid("depth must be at least 1");
                    }
                    WorkspacePath dir = path(text(request, "path"));
                    List<Workspace.Entry> entries =
                            sandbox.withWorkspace(w -> w.list(dir, Math.min(depth, 64), MAX_ENTRIES));
                    yield Map.of(
                            "entries", entries.stream().map(EnvdPlane::entry).toList());
                }
                case "filesystem.Filesystem/MakeDir" -> {
                    WorkspacePath dir = path(text(request, "path"));
                    boolean made = sandbox.withWorkspace(w -> w.makeDirectories(dir));
                    if (!made) {
                        throw new SandboxException(SandboxException.Kind.CONFLICT, shown(dir) + " exists already");
                    }
                    yield Map.of("entry", entry(sandbox.withWorkspace(w -> w.stat(dir))));
                }
                case "filesystem.Filesystem/Remove" -> {
                    WorkspacePath target = path(text(request, "path"));
                    sandbox.withWorkspace(w -> {
                        w.remove(target);
                        return null;
                    });
                    yield Map.of();
                }
                case "filesystem.Filesystem/Move" -> {
                    WorkspacePath from = path(text(request, "source"));
                    WorkspacePath to = path(text(request, "destination"));
                    yield Map.of("entry", entry(sandbox.withWorkspace(w -> w.move(from, to))));
                }
                case "process.Process/List" ->
                    Map.of(
                            "processes",
                            sandbox.runningCommands().stream()
                                    .map(EnvdPlane::process)
                                    .toList());
                case "process.Process/SendSignal" -> {
                    long pid = request.path("process").path("pid").asLong(-1);
                    String signal = signal(request.path("signal").asText(""));
                    Sandbox.RunningCommandInfo target = sandbox.runningCommands().stream()
                            .filter(c -> c.pid() == pid)
                            .findFirst()
                            .orElseThrow(() -> SandboxException.notFound("no process " + pid));
                    target.command().signal(signal);
                    yield Map.of();
                }
                default -> throw SandboxException.notFound(call + " is not implemented by this server");
            };
        } catch (IOException e) {
            throw new SandboxException(SandboxException.Kind.INTERNAL, e.getMessage(), e);
        }
    }

    private static String signal(String name) {
        return switch (name) {
            case "SIGNAL_SIGKILL" -> "KILL";
            case "SIGNAL_SIGTERM" -> "TERM";
            case "SIGNAL_SIGINT" -> "INT";
            case "SIGNAL_SIGHUP" -> "HUP";
            default -> throw SandboxException.invalid("unknown signal " + name);
        };
    }

    private static Map<String, Object> process(Sandbox.RunningCommandInfo info) {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("cmd", "/bin/bash");
        config.put("args", List.of("-l", "-c", info.spec().shellCommand()));
        config.put("envs", info.spec().env());
        config.put("cwd", shown(new WorkspacePath(info.spec().workspacePath())));
        return Map.of("pid", info.pid(), "config", config);
    }

    /** An EntryInfo in the proto3 JSON mapping: enum names, int64 as a string, RFC 3339 time. */
    private static Map<String, Object> entry(Workspace.Entry entry) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", entry.path().isRoot() ? "user" : entry.name());
        out.put(
                "type",
                switch (entry.type()) {
                    case FILE -> "FILE_TYPE_FILE";
                    case DIRECTORY -> "FILE_TYPE_DIRECTORY";
                    case SYMLINK -> "FILE_TYPE_SYMLINK";
                    case OTHER -> "FILE_TYPE_UNSPECIFIED";
                });
        out.put("path", shown(entry.path()));
        out.put("size", Long.toString(entry.size()));
        out.put("mode", entry.mode());
        out.put("permissions", permissions(entry));
        out.put("owner", "user");
        out.put("group", "user");
        out.put("modifiedTime", Instant.ofEpochMilli(entry.modifiedMillis()).toString());
        return out;
    }

    private static String permissions(Workspace.Entry entry) {
        StringBuilder text = new StringBuilder(
                switch (entry.type()) {
                    case DIRECTORY -> "d";
                    case SYMLINK -> "l";
                    default -> "-";
                });
        String letters = "rwxrwxrwx";
        for (int bit = 8; bit >= 0; bit--) {
            text.append((entry.mode() & (1 << bit)) != 0 ? letters.charAt(8 - bit) : '-');
        }
        return text.toString();
    }

    // ---- process.Process/Start ---------------------------------------------------------------

    private void start(RoutingContext ctx, Sandbox sandbox, byte[] body, E2bReply reply) {
        JsonNode request = object(ConnectEnvelope.single(body));
        JsonNode process = request.path("process");
        String cmd = text(process, "cmd");
        List<String> args = new ArrayList<>();
        process.path("args").forEach(arg -> args.add(arg.asText()));
        if (request.path("stdin").asBoolean(false)) {
            throw SandboxException.invalid("stdin is not supported by this server: commands run without input");
        }
        String shell = cmd.equals("/bin/bash")
                        && args.size() == 3
                        && args.get(0).equals("-l")
                        && args.get(1).equals("-c")
                ? args.get(2)
                : quoted(cmd, args);
        JsonNode cwd = process.get("cwd");
        WorkspacePath directory = path(cwd == null || cwd.isNull() ? HOME : cwd.asText());
        Map<String, String> env = new LinkedHashMap<>(SandboxRequests.environment(process.get("envs"), "envs"));
        env.put("HOME", HOME);
        Duration timeout = timeout(ctx.request().getHeader("Connect-Timeout-Ms"));
        Duration keepalive = keepalive(ctx.request().getHeader("Keepalive-Ping-Interval"));
        ProcessStream stream = new ProcessStream(reply, mapper, config.http().writeStallTimeout());
        // Watched before the command starts: a client that is gone by then stops it at once.
        AtomicReference<CommandRun> started = new AtomicReference<>();
        AtomicBoolean gone = new AtomicBoolean();
        ctx.response().closeHandler(closed -> {
            gone.set(true);
            stream.clientGone();
            CommandRun run = started.get();
            if (run != null) {
                run.cancel();
            }
        });
        reply.after(sandbox.startCommand(new CommandSpec(shell, directory.components(), env, HOME)), command -> {
            stream.begin(command.pid(), workers.timers(), keepalive);
            CommandRun run = commandRuns.of(command, stream, false);
            started.set(run);
            run.start(timeout);
            if (gone.get()) {
                run.cancel();
            }
        });
    }

    private Duration timeout(String header) {
        Duration max = config.execute().maxTimeout();
        if (header == null || header.isBlank()) {
            return max;
        }
        try {
            long millis = Long.parseLong(header.strip());
            return millis <= 0 ? max : Duration.ofMillis(Math.min(millis, max.toMillis()));
        } catch (NumberFormatException e) {
            throw SandboxException.invalid("Connect-Timeout-Ms must be a number of milliseconds");
        }
    }

    private static Duration keepalive(String header) {
        try {
            long seconds = header == null ? 50 : Long.parseLong(header.strip());
            return Duration.ofSeconds(Math.max(1, Math.min(seconds, 300)));
        } catch (NumberFormatException e) {
            return Duration.ofSeconds(50);
        }
    }

    /** cmd and args as one bash command line, each word single-quoted. */
    static String quoted(String cmd, List<String> args) {
        StringBuilder line = new StringBuilder(quote(cmd));
        for (String arg : args) {
            line.append(' ').append(quote(arg));
        }
        return line.toString();
    }

    private static String quote(String word) {
        return "'" + word.replace("'", "'\\''") + "'";
    }

    // ---- helpers -----------------------------------------------------------------------------

    private JsonNode object(byte[] body) {
        JsonNode node = body.length == 0 ? null : json.read(body);
        if (node == null) {
            return mapper.createObjectNode();
        }
        if (!node.isObject()) {
            throw SandboxException.invalid("the request must be a JSON object");
        }
        return node;
    }

    private static String text(JsonNode request, String field) {
        JsonNode value = request.get(field);
        if (value == null || !value.isTextual()) {
            throw SandboxException.invalid("\"" + field + "\" is required: a string");
        }
        return value.asText();
    }
}
