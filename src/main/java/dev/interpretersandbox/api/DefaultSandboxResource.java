package dev.interpretersandbox.api;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.isolation.IsolationBackend;
import dev.interpretersandbox.lifecycle.RuntimeCheck;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxState;
import dev.interpretersandbox.sandbox.SandboxView;
import io.smallrye.common.annotation.NonBlocking;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.time.Duration;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirementsSet;

/**
 * The seed API, on the default sandbox: GET / (ping), POST /execute, and the file transfers under
 * /files. Thin: each method delegates to {@link Executions} or {@link Transfers}.
 */
@Path("/")
public class DefaultSandboxResource {

    static final String EXECUTE = "State persists between calls. Calls run one at a time in arrival order, with a"
            + " bounded queue. On timeout the code is interrupted (variables survive) and the events so far are"
            + " returned with status \"timeout\"; code that ignores the interrupt gets the sandbox restarted, with"
            + " an error event saying so. A kernel that dies gives status \"error\" and an error event naming the"
            + " cause. Output past the caps (sandbox.output.*) is cut, and a stderr note says so. A client that"
            + " disconnects, or stops reading for sandbox.http.write-stall-timeout, interrupts its execution.\n\n"
            + "Accept: application/x-ndjson streams each event as one JSON line the moment it happens, then a final"
            + " {\"status\": ...} line; Accept: text/event-stream sends the same as server-sent events (event:"
            + " <type>, then event: done). Without either, the response is one JSON document, written as the events"
            + " happen. Errors before the code starts (bad input, 429, 503) are ordinary error responses.";
    static final String UPLOAD_DOC = "The path is absolute, as code sees it (/mnt/data/data.csv). Streams to disk,"
            + " create-only, makes parent directories, leaves nothing behind on failure; the file belongs to the"
            + " sandbox's user.";
    static final String DOWNLOAD_DOC = "Content-Type from the name and the content; Content-Disposition with the"
            + " RFC 5987 name; X-Content-Type-Options: nosniff.";
    static final String UPLOAD = "/files/upload/-";
    static final String DOWNLOAD = "/files/download/-";
    /** How long a client should wait before pinging a sandbox that cannot start. */
    private static final Duration BROKEN_RETRY = Duration.ofSeconds(10);

    /** The ping body; {@code last_activity} is the field the seed API defines, the rest is extra. */
    public record Ping(
            Instant lastActivity,
            Instant expiresAt,
            String sandbox,
            SandboxState state,
            String kernel,
            String isolation,
            Limits limits) {}

    @Schema(name = "PingLimits")
    public record Limits(long memoryBytes, double cpus, int pids, int processes, long workspaceBytes, long tmpBytes) {}

    private final SandboxService sandboxes;
    private final RuntimeCheck runtime;
    private final SandboxConfig config;
    private final IsolationBackend backend;
    private final Executions executions;
    private final Transfers transfers;

    DefaultSandboxResource(
            SandboxService sandboxes,
            RuntimeCheck runtime,
            SandboxConfig config,
            IsolationBackend backend,
            Executions executions,
            Transfers transfers) {
        this.sandboxes = sandboxes;
        this.runtime = runtime;
        this.config = config;
        this.backend = backend;
        this.executions = executions;
        this.transfers = transfers;
    }

    /** Is the sandbox alive, and when was it last used. Never counts as activity. */
    @GET
    @NonBlocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            operationId = "ping",
            summary = "Is the sandbox alive, and when was it last used",
            description =
                    "Never counts as activity itself. Open without a token unless" + " sandbox.auth.protect-ping=true.")
    @SecurityRequirement(name = "bearer")
    @SecurityRequirementsSet
    @APIResponse(
            responseCode = "200",
            description = "The sandbox can run code (it starts on the first execute if stopped).",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = Ping.class),
                            example = ApiDocs.PING))
    @APIResponse(
            responseCode = "503",
            description = "The sandbox is broken and cannot be started; see Retry-After.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorBody.class),
                            example = ApiDocs.BROKEN))
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    public Ping ping() {
        SandboxView sandbox = sandboxes.defaultSandbox().view();
        if (runtime.problem() != null) {
            throw SandboxException.unavailable("the sandbox cannot be started: " + runtime.problem(), BROKEN_RETRY);
        }
        if (sandbox.state() == SandboxState.BROKEN) {
            throw SandboxException.unavailable(
                    "the sandbox cannot be started: " + sandbox.startFailure(), BROKEN_RETRY);
        }
        SandboxConfig.Limits limits = config.limits();
        return new Ping(
                sandbox.lastActivity(),
                sandbox.expiresAt(),
                sandbox.id(),
                sandbox.state(),
                sandbox.kernel(),
                backend.describe(),
                new Limits(
                        limits.memory().asLongValue(),
                        limits.cpus(),
                        limits.pids(),
                        limits.processes(),
                        limits.workspaceSize().asLongValue(),
                        limits.tmpSize().asLongValue()));
    }

    @POST
    @Path("execute")
    @Consumes(MediaType.WILDCARD)
    @Operation(operationId = "execute", summary = "Run code in the sandbox's kernel", description = EXECUTE)
    @RequestBody(ref = "Execute")
    @APIResponse(responseCode = "200", ref = "Executed")
    @APIResponse(responseCode = "400", ref = "BadExecute")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "405", ref = "MethodNotAllowed")
    @APIResponse(responseCode = "413", ref = "TooLarge")
    @APIResponse(responseCode = "429", ref = "Busy")
    @APIResponse(responseCode = "503", ref = "CannotStart")
    public Uni<Response> execute(@HeaderParam("Accept") String accept, @Context RoutingContext ctx) {
        return executions.execute(sandboxes::defaultSandbox, accept, ctx);
    }

    @POST
    @Path("commands")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            operationId = "command",
            summary = "Run a shell command in the default sandbox",
            description = ApiDocs.COMMAND)
    @RequestBody(ref = "Command")
    @APIResponse(responseCode = "200", ref = "Commanded")
    @APIResponse(responseCode = "400", ref = "BadCommand")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "503", ref = "CannotStart")
    public Uni<Response> command(@HeaderParam("Accept") String accept, @Context RoutingContext ctx) {
        return executions.command(sandboxes::defaultSandbox, accept, ctx);
    }

    @POST
    @Path("files/upload/-/{path: .*}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(operationId = "upload", summary = "Upload a file into /mnt/data", description = UPLOAD_DOC)
    @Parameter(ref = "Path")
    @RequestBody(ref = "File")
    @APIResponse(responseCode = "201", ref = "Uploaded")
    @APIResponse(responseCode = "400", ref = "BadPath")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "403", ref = "Outside")
    @APIResponse(responseCode = "409", ref = "Exists")
    @APIResponse(responseCode = "413", ref = "NoRoom")
    public Uni<Response> upload(@Context RoutingContext ctx) {
        return transfers.upload(sandboxes::defaultSandbox, ctx.request().path().substring(UPLOAD.length()), ctx);
    }

    @GET
    @Path("files/download/-/{path: .*}")
    @Operation(operationId = "download", summary = "Download a file from /mnt/data", description = DOWNLOAD_DOC)
    @Parameter(ref = "Path")
    @APIResponse(responseCode = "200", ref = "File")
    @APIResponse(responseCode = "400", ref = "BadPath")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "403", ref = "Outside")
    @APIResponse(responseCode = "404", ref = "FileNotFound")
    public Uni<Response> download(@Context RoutingContext ctx) {
        return transfers.download(
                sandboxes.defaultSandbox(), ctx.request().path().substring(DOWNLOAD.length()), ctx);
    }
}
