package dev.interpretersandbox.api;

import dev.interpretersandbox.sandbox.ExecutionResult;
import jakarta.ws.rs.core.Application;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Components;
import org.eclipse.microprofile.openapi.annotations.OpenAPIDefinition;
import org.eclipse.microprofile.openapi.annotations.enums.ParameterIn;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.info.Info;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.DiscriminatorMapping;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;

/**
 * What the generated API description (/q/openapi) says beyond what the resources' signatures
 * show: the document's header, shared responses, the shapes of bodies the resources write
 * themselves (the execute stream), and examples. The examples are real responses; {@code
 * OpenApiIT} checks their fields against what the service sends.
 */
@OpenAPIDefinition(
        info =
                @Info(
                        title = "Interpreter Sandbox",
                        version = "1.0",
                        description =
                                "Runs Python in a stateful IPython kernel inside a gVisor sandbox with cgroup limits, no"
                                        + " network, and a workspace at /mnt/data. Every error body is {\"error\": \"<message>\"}."
                                        + " When sandbox.auth.token is set, every endpoint but the health checks (and GET /, unless"
                                        + " sandbox.auth.protect-ping=true) needs Authorization: Bearer <token>."),
        security = @SecurityRequirement(name = "bearer"),
        components =
                @Components(
                        securitySchemes =
                                @SecurityScheme(
                                        securitySchemeName = "bearer",
                                        type = SecuritySchemeType.HTTP,
                                        scheme = "bearer",
                                        description = "Only when sandbox.auth.token (SANDBOX_AUTH_TOKEN) is set."),
                        responses = {
                            @APIResponse(
                                    name = "BadId",
                                    description = "Not a sandbox ID.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.BAD_ID)),
                            @APIResponse(
                                    name = "NoSandbox",
                                    description = "No such sandbox (never created, or deleted).",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.NO_SANDBOX)),
                            @APIResponse(
                                    name = "Reaped",
                                    description = "The reaper removed this sandbox; the body says why and when.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ApiDocs.Removed.class),
                                                    example = ApiDocs.REMOVED)),
                            @APIResponse(
                                    name = "Unauthorized",
                                    description = "A token is configured and the request did not carry it.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.UNAUTHORIZED)),
                            @APIResponse(
                                    name = "MethodNotAllowed",
                                    description = "Wrong method for this path.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.METHOD_NOT_ALLOWED)),
                            @APIResponse(
                                    name = "TooLarge",
                                    description =
                                            "The body is larger than this endpoint takes; refused before it is read.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.TOO_LARGE)),
                            @APIResponse(
                                    name = "Executed",
                                    description = "The execution ran (whatever its status).",
                                    content = {
                                        @Content(
                                                mediaType = "application/json",
                                                schema = @Schema(implementation = ApiDocs.ExecuteResponse.class),
                                                examples = {
                                                    @ExampleObject(name = "ok", value = ApiDocs.EXECUTE_OK),
                                                    @ExampleObject(name = "exception", value = ApiDocs.EXECUTE_ERROR),
                                                    @ExampleObject(name = "timeout", value = ApiDocs.EXECUTE_TIMEOUT),
                                                    @ExampleObject(name = "kernel_died", value = ApiDocs.EXECUTE_DIED)
                                                }),
                                        @Content(
                                                mediaType = "application/x-ndjson",
                                                schema =
                                                        @Schema(
                                                                type = SchemaType.STRING,
                                                                description =
                                                                        "One Event per line, then one line {status, usage} (or"
                                                                                + " {status: error, error} when the stream broke off)."),
                                                example = ApiDocs.NDJSON),
                                        @Content(
                                                mediaType = "text/event-stream",
                                                schema =
                                                        @Schema(
                                                                type = SchemaType.STRING,
                                                                description =
                                                                        "One message per Event (event name = its type), then"
                                                                                + " an event named done with {status, usage}."),
                                                example = ApiDocs.SSE)
                                    }),
                            @APIResponse(
                                    name = "BadExecute",
                                    description =
                                            "Malformed JSON (duplicate keys and trailing content included), missing or"
                                                    + " non-string code, timeout_secs not a number, not above 0, or above the maximum.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.EXECUTE_BAD)),
                            @APIResponse(
                                    name = "Commanded",
                                    description = "The command ran (whatever its exit code).",
                                    content = @Content(mediaType = "application/json", example = ApiDocs.COMMAND_OK)),
                            @APIResponse(
                                    name = "BadCommand",
                                    description = "Missing cmd, an unknown field, a bad cwd, env or timeout_secs.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.COMMAND_BAD)),
                            @APIResponse(
                                    name = "CannotStart",
                                    description = "The sandbox could not be started.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.CANNOT_START)),
                            @APIResponse(
                                    name = "Uploaded",
                                    description = "Uploaded.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = Transfers.Uploaded.class),
                                                    example = ApiDocs.UPLOADED)),
                            @APIResponse(
                                    name = "BadPath",
                                    description =
                                            "The path is not valid (traversal, NUL, bad escape), is a directory, FIFO or"
                                                    + " device, or Content-Length is not a number.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.BAD_PATH)),
                            @APIResponse(
                                    name = "Outside",
                                    description = "The path is outside /mnt/data, or leads through a symbolic link.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.OUTSIDE)),
                            @APIResponse(
                                    name = "Exists",
                                    description = "The file already exists.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.EXISTS)),
                            @APIResponse(
                                    name = "NoRoom",
                                    description = "The file does not fit in the workspace (or the workspace holds"
                                            + " more than a million entries, too many to measure).",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.NO_ROOM)),
                            @APIResponse(
                                    name = "File",
                                    description =
                                            "The file: Content-Type from its name and content, Content-Disposition with"
                                                    + " its RFC 5987 name, Content-Length, X-Content-Type-Options: nosniff.",
                                    content =
                                            @Content(
                                                    mediaType = "application/octet-stream",
                                                    schema = @Schema(implementation = ApiDocs.Binary.class))),
                            @APIResponse(
                                    name = "FileNotFound",
                                    description = "No such file.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.FILE_NOT_FOUND)),
                            @APIResponse(
                                    name = "Busy",
                                    description = "Too many executions wait for this sandbox or across the service; see"
                                            + " Retry-After.",
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ErrorBody.class),
                                                    example = ApiDocs.BUSY)),
                        },
                        requestBodies = {
                            @RequestBody(
                                    name = "Execute",
                                    required = true,
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ApiDocs.ExecuteRequest.class),
                                                    examples = {
                                                        @ExampleObject(
                                                                name = "hello",
                                                                value = "{\"code\": \"print('hello')\"}"),
                                                        @ExampleObject(
                                                                name = "with_timeout",
                                                                value = ApiDocs.EXECUTE_REQUEST)
                                                    })),
                            @RequestBody(
                                    name = "Command",
                                    required = true,
                                    content =
                                            @Content(
                                                    mediaType = "application/json",
                                                    schema = @Schema(implementation = ApiDocs.Command.class))),
                            @RequestBody(
                                    name = "File",
                                    required = true,
                                    content =
                                            @Content(
                                                    mediaType = "application/octet-stream",
                                                    schema = @Schema(implementation = ApiDocs.Binary.class)))
                        },
                        parameters = {
                            @Parameter(
                                    name = "Path",
                                    in = ParameterIn.PATH,
                                    required = true,
                                    description =
                                            "The rest of the absolute path, starting with mnt/data/ (percent-encoded as"
                                                    + " needed).",
                                    example = "mnt/data/data.csv",
                                    schema = @Schema(type = SchemaType.STRING)),
                            @Parameter(
                                    name = "Id",
                                    in = ParameterIn.PATH,
                                    required = true,
                                    description =
                                            "A sandbox ID from POST /sandboxes, or \"default\" for the unprefixed API's"
                                                    + " sandbox.",
                                    example = "sb-676bfd98c01b5233",
                                    schema = @Schema(type = SchemaType.STRING, pattern = "^[a-z0-9][a-z0-9-]{0,62}$"))
                        }))
public final class ApiDocs extends Application {

    // An Application subclass because that is where the OpenAPI scanner reads the definition; without
    // @ApplicationPath and with no classes of its own it changes nothing about the resources.

    static final String BAD_ID = "{\"error\": \"invalid sandbox id: lower-case letters, digits and '-', at most 63\"}";
    static final String NO_SANDBOX = "{\"error\": \"no sandbox sb-0000000000000000\"}";
    static final String REMOVED = "{\"error\": \"sandbox sb-676bfd98c01b5233 was removed at 2026-11-26T13:10:05Z: idle"
            + " for longer than 900 s\", \"reason\": \"idle for longer than 900 s\", \"removed_at\":"
            + " \"2026-11-26T13:10:05Z\"}";
    static final String UNAUTHORIZED =
            "{\"error\": \"a valid bearer token is required: send Authorization: Bearer <token>\"}";
    static final String METHOD_NOT_ALLOWED = "{\"error\": \"method not allowed\"}";
    static final String TOO_LARGE = "{\"error\": \"the request body is larger than 1 MiB\"}";
    static final String BUSY =
            "{\"error\": \"too many executions are waiting for this sandbox (queue size 16); retry later\"}";

    static final String PING = "{\"last_activity\": \"2026-11-26T12:07:44.674241666Z\", \"expires_at\":"
            + " \"2026-11-26T12:22:44.674241666Z\", \"sandbox\": \"default\", \"state\": \"idle\", \"kernel\":"
            + " \"default-1\", \"isolation\": \"runsc/ptrace\", \"limits\": {\"memory_bytes\": 1073741824, \"cpus\": 1.0,"
            + " \"pids\": 512, \"processes\": 16, \"workspace_bytes\": 1073741824, \"tmp_bytes\": 268435456}}";
    static final String BROKEN =
            "{\"error\": \"the sandbox cannot be started: runsc is not usable: cannot start runsc\"}";

    static final String EXECUTE_REQUEST = "{\"code\": \"import math\\nprint(math.pi)\", \"timeout_secs\": 30}";
    static final String EXECUTE_OK = "{\"events\": ["
            + "{\"type\": \"stream\", \"timestamp\": \"2026-11-26T12:07:50.561724261Z\", \"data\": {\"name\":"
            + " \"stdout\", \"text\": \"hello\\n\"}},"
            + "{\"type\": \"display_data\", \"timestamp\": \"2026-11-26T12:07:50.562011000Z\", \"data\":"
            + " {\"variants\": {\"text/plain\": \"2\"}}},"
            + "{\"type\": \"file\", \"timestamp\": \"2026-11-26T12:07:50.563000000Z\", \"data\": {\"path\":"
            + " \"out.csv\", \"size\": 128}}],"
            + " \"status\": \"ok\", \"usage\": {\"wall_ms\": 6.75, \"cpu_ms\": 5.62, \"peak_memory_bytes\": 63717376}}";
    static final String EXECUTE_ERROR = "{\"events\": [{\"type\": \"error\", \"timestamp\":"
            + " \"2026-11-26T12:07:51.000000000Z\", \"data\": {\"ename\": \"ZeroDivisionError\", \"evalue\": \"division"
            + " by zero\", \"traceback\": [\"\\u001b[0;31mZeroDivisionError\\u001b[0m: division by zero\"]}}],"
            + " \"status\": \"ok\", \"usage\": {\"wall_ms\": 3.1, \"cpu_ms\": 2.9, \"peak_memory_bytes\": 63717376}}";
    static final String EXECUTE_TIMEOUT = "{\"events\": [{\"type\": \"stream\", \"timestamp\":"
            + " \"2026-11-26T12:07:52.000000000Z\", \"data\": {\"name\": \"stdout\", \"text\": \"started\\n\"}}],"
            + " \"status\": \"timeout\", \"usage\": {\"wall_ms\": 1001.2, \"cpu_ms\": 4.0, \"peak_memory_bytes\":"
            + " 63717376}}";
    static final String EXECUTE_DIED = "{\"events\": [{\"type\": \"error\", \"timestamp\":"
            + " \"2026-11-26T12:07:53.000000000Z\", \"data\": {\"ename\": \"KernelDied\", \"evalue\": \"the kernel died"
            + " during the execution (out of memory: the sandbox reached its memory limit of 1 GiB); the next"
            + " execution starts a fresh kernel: variables and imports are lost, files in /mnt/data are kept\","
            + " \"traceback\": []}}], \"status\": \"error\", \"usage\": {\"wall_ms\": 812.0, \"cpu_ms\": 790.5,"
            + " \"peak_memory_bytes\": 1073741824}}";
    static final String NDJSON = "{\"type\":\"stream\",\"timestamp\":\"2026-11-26T12:07:46.468323985Z\",\"data\":"
            + "{\"name\":\"stdout\",\"text\":\"0\\n\"}}\n"
            + "{\"type\":\"stream\",\"timestamp\":\"2026-11-26T12:07:46.969630491Z\",\"data\":{\"name\":\"stdout\","
            + "\"text\":\"1\\n\"}}\n"
            + "{\"status\":\"ok\",\"usage\":{\"wall_ms\":1012.4,\"cpu_ms\":9.1,\"peak_memory_bytes\":63717376}}\n";
    static final String SSE = ": started\n\n"
            + "event: stream\ndata: {\"type\":\"stream\",\"timestamp\":\"2026-11-26T12:07:50.542513686Z\",\"data\":"
            + "{\"name\":\"stdout\",\"text\":\"1\\n\"}}\n\n"
            + "event: done\ndata: {\"status\":\"ok\",\"usage\":{\"wall_ms\":3.2,\"cpu_ms\":2.9,\"peak_memory_bytes\":"
            + "63717376}}\n\n";
    static final String EXECUTE_BAD = "{\"error\": \"\\\"code\\\" is required\"}";
    static final String CANNOT_START =
            "{\"error\": \"the sandbox could not be started: the kernel was not ready after 60 s\"}";

    static final String UPLOADED = "{\"path\": \"/mnt/data/data.csv\", \"size\": 1024}";
    static final String BAD_PATH = "{\"error\": \"the path must not contain '.' or '..' components\"}";
    static final String OUTSIDE = "{\"error\": \"only files under /mnt/data can be accessed\"}";
    static final String EXISTS = "{\"error\": \"file already exists\"}";
    static final String NO_ROOM = "{\"error\": \"the file does not fit in the workspace: 10 MiB free of 1 GiB\"}";
    static final String NOT_FILE = "{\"error\": \"/mnt/data/plots is a directory\"}";
    static final String FILE_NOT_FOUND = "{\"error\": \"file not found\"}";

    static final String SANDBOX_FIELDS = "{\"id\": \"sb-676bfd98c01b5233\", \"last_activity\":"
            + " \"2026-11-26T12:54:55.052773418Z\", \"expires_at\": \"2026-11-26T13:09:55.052773418Z\", \"created_at\":"
            + " \"2026-11-26T12:54:55.052761907Z\", \"state\": \"idle\", \"kernel\": \"sb-676bfd98c01b5233-1\","
            + " \"limits\": {\"memory_bytes\": 1073741824, \"cpus\": 1.0, \"pids\": 512, \"workspace_bytes\":"
            + " 1073741824, \"idle_timeout_secs\": 900}, \"usage\": {\"memory_bytes\": 120451072, \"busy_secs\": 0.0}";
    static final String SANDBOX = SANDBOX_FIELDS + "}";
    static final String SANDBOXES = "{\"sandboxes\": [" + SANDBOX + "]}";
    /** POST /sandboxes: the sandbox, and its access token, shown this once. */
    static final String CREATED = SANDBOX_FIELDS
            + ", \"access_token\": \"sbt_9c1f0e4d7b2a4f1e8a6c3b5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d1e3f\"}";

    static final String CREATE = "{\"limits\": {\"memory_bytes\": 536870912, \"cpus\": 0.5}, \"env\": {\"API_BASE\":"
            + " \"https://example.invalid\"}, \"idle_timeout_secs\": 600}";
    static final String BAD_LIMIT = "{\"error\": \"\\\"limits.memory_bytes\\\" must be between 128 MiB and 8 GiB\"}";
    static final String FULL = "{\"error\": \"the service is at its maximum of 200 sandboxes; retry later\"}";
    static final String INTERRUPTED = "{\"interrupted\": true}";

    /** POST /execute's body. */
    @Schema(name = "ExecuteRequest", requiredProperties = "code")
    record ExecuteRequest(
            @Schema(description = "Python (IPython syntax, magics included).")
            String code,

            @Schema(
                    description = "Execution time only, not sandbox start; at most"
                            + " sandbox.execute.max-timeout. Defaults to 60.",
                    minimum = "0",
                    exclusiveMinimum = true)
            Double timeoutSecs) {}

    /** The plain JSON response of an execution. */
    @Schema(
            name = "ExecuteResponse",
            requiredProperties = {"status", "events"})
    record ExecuteResponse(
            @Schema(
                    description = "error means the kernel died or was restarted; a Python exception is an"
                            + " error event with status ok.",
                    enumeration = {"ok", "timeout", "error"})
            String status,

            List<Event> events,
            ExecutionResult.Usage usage) {}

    /** One event; {@code type} says which data it carries. */
    @Schema(
            name = "Event",
            oneOf = {StreamEvent.class, DisplayEvent.class, ErrorEvent.class, FileEvent.class},
            discriminatorProperty = "type",
            discriminatorMapping = {
                @DiscriminatorMapping(value = "stream", schema = StreamEvent.class),
                @DiscriminatorMapping(value = "display_data", schema = DisplayEvent.class),
                @DiscriminatorMapping(value = "error", schema = ErrorEvent.class),
                @DiscriminatorMapping(value = "file", schema = FileEvent.class)
            })
    interface Event {}

    @Schema(
            name = "StreamEvent",
            description = "Output of stdout or stderr; consecutive output of one stream is one event.",
            example = "{\"type\": \"stream\", \"timestamp\": \"2026-11-26T12:07:50.561724261Z\", \"data\": {\"name\":"
                    + " \"stdout\", \"text\": \"hello\\n\"}}")
    record StreamEvent(String type, Instant timestamp, StreamData data) implements Event {}

    record StreamData(
            @Schema(enumeration = {"stdout", "stderr"}) String name, String text) {}

    @Schema(
            name = "DisplayEvent",
            description = "A display or the cell's value: a MIME bundle (plots as image/png, base64).",
            example = "{\"type\": \"display_data\", \"timestamp\": \"2026-11-26T12:07:50.562011000Z\", \"data\":"
                    + " {\"variants\": {\"text/plain\": \"2\"}}}")
    record DisplayEvent(String type, Instant timestamp, DisplayData data) implements Event {}

    record DisplayData(Map<String, Object> variants) {}

    @Schema(
            name = "ErrorEvent",
            description = "An exception (with IPython's coloured traceback), or KernelDied / SandboxRestarted from"
                    + " the service.",
            example = "{\"type\": \"error\", \"timestamp\": \"2026-11-26T12:07:51.000000000Z\", \"data\": {\"ename\":"
                    + " \"ZeroDivisionError\", \"evalue\": \"division by zero\", \"traceback\": []}}")
    record ErrorEvent(String type, Instant timestamp, ErrorData data) implements Event {}

    record ErrorData(String ename, String evalue, List<String> traceback) {}

    @Schema(
            name = "FileEvent",
            description = "A file under /mnt/data created or changed by the execution; path relative to /mnt/data.",
            example = "{\"type\": \"file\", \"timestamp\": \"2026-11-26T12:07:50.563000000Z\", \"data\": {\"path\":"
                    + " \"out.csv\", \"size\": 128}}")
    record FileEvent(String type, Instant timestamp, FileData data) implements Event {}

    record FileData(String path, long size) {}

    /** POST /sandboxes's body; everything is optional. */
    @Schema(name = "CreateSandbox")
    record CreateSandbox(CreateLimits limits, Map<String, String> env, Double idleTimeoutSecs) {}

    record CreateLimits(Long memoryBytes, Double cpus, Integer pids, Long workspaceBytes) {}

    @Schema(name = "Command", requiredProperties = "cmd")
    record Command(
            @Schema(description = "What /bin/bash -l -c runs, as the sandbox user.", example = "ls -la")
            String cmd,

            @Schema(description = "Working directory under /mnt/data; defaults to /mnt/data.")
            String cwd,

            @Schema(description = "Extra environment, on top of the sandbox's; the same rules as POST /sandboxes env.")
            Map<String, String> env,

            @Schema(description = "Seconds before SIGTERM (then SIGKILL after the interrupt grace); default 60.")
            Double timeoutSecs) {}

    static final String COMMAND_OK = """
            {"events": [
              {"type": "stream", "timestamp": "2026-12-01T10:00:00.120Z", "data": {"name": "stdout", "text": "a.csv\\nb.csv\\n"}},
              {"type": "stream", "timestamp": "2026-12-01T10:00:00.121Z", "data": {"name": "stderr", "text": "warning: 2 files\\n"}}
             ],
             "status": "ok", "exit_code": 0, "usage": {"wall_ms": 212.4, "cpu_ms": null, "peak_memory_bytes": null}}""";

    static final String COMMAND_BAD = "{\"error\": \"\\\"cmd\\\" is required: a non-empty string that bash runs\"}";

    static final String COMMAND = "Runs a shell command in the sandbox, next to its kernel: the same gVisor"
            + " container (or process-mode isolation), limits and user, cwd /mnt/data by default, no stdin."
            + " It runs even while code executes; the kernel is started or restored first when none runs."
            + " The response has the formats of execute (JSON, NDJSON with Accept: application/x-ndjson, or SSE):"
            + " stream events for stdout and stderr as they come, then {status, exit_code, usage}. status is"
            + " timeout when timeout_secs passed (SIGTERM, then SIGKILL); output past the stream cap is dropped"
            + " with a note; a client that disconnects kills the command.";

    /** 410 for a sandbox the reaper removed. */
    @Schema(
            name = "Removed",
            requiredProperties = {"error", "reason", "removed_at"})
    record Removed(String error, String reason, Instant removedAt) {}

    /** An upload's or a download's body. */
    @Schema(name = "Binary", type = SchemaType.STRING, format = "binary")
    interface Binary {}
}
