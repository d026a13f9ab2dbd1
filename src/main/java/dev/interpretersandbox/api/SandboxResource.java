package dev.interpretersandbox.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.auth.AccessTokens;
import dev.interpretersandbox.cluster.Fleet;
import dev.interpretersandbox.cluster.Forwarder;
import dev.interpretersandbox.cluster.Placement;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxSpec;
import io.smallrye.common.annotation.NonBlocking;
import io.smallrye.mutiny.Uni;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;

/**
 * Many sandboxes: POST/GET /sandboxes, GET/DELETE /sandboxes/{id}, and under /sandboxes/{id}/
 * everything the seed API does on the default sandbox (execute, uploads, downloads) plus interrupt
 * and restart. Thin: look the sandbox up, delegate, map.
 */
@Path("/sandboxes")
public class SandboxResource {

    /**
     * The sandboxes; in fleet mode the whole fleet's, and unavailable_instances names instances
     * that could not be asked (their sandboxes are missing from the list).
     */
    public record SandboxList(
            List<SandboxInfo> sandboxes,
            @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> unavailableInstances) {}

    public record Interrupted(boolean interrupted) {}

    private final SandboxService sandboxes;
    private final SandboxRequests requests;
    private final Executions executions;
    private final Transfers transfers;
    private final BodyLimits limits;
    private final Fleet fleet;
    private final Placement placement;
    private final ObjectMapper mapper;

    SandboxResource(
            SandboxService sandboxes,
            ObjectMapper mapper,
            SandboxConfig config,
            Executions executions,
            Transfers transfers,
            BodyLimits limits,
            Fleet fleet,
            Placement placement) {
        this.sandboxes = sandboxes;
        this.fleet = fleet;
        this.placement = placement;
        this.mapper = mapper;
        this.limits = limits;
        this.requests = new SandboxRequests(new StrictJson(mapper), config);
        this.executions = executions;
        this.transfers = transfers;
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            operationId = "createSandbox",
            summary = "Create a sandbox (from the warm pool when its limits are the defaults)")
    @RequestBody(
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ApiDocs.CreateSandbox.class),
                            example = ApiDocs.CREATE))
    @APIResponse(
            responseCode = "201",
            description = "Created; Location is /sandboxes/{id}.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = SandboxInfo.class),
                            example = ApiDocs.CREATED))
    @APIResponse(
            responseCode = "400",
            description = "A limit above its maximum, an unknown field, a bad environment variable, malformed JSON.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorBody.class),
                            example = ApiDocs.BAD_LIMIT))
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "413", ref = "TooLarge")
    @APIResponse(
            responseCode = "503",
            description = "At the maximum number of sandboxes or the memory budget; see Retry-After.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = ErrorBody.class),
                            example = ApiDocs.FULL))
    public Uni<Response> create(@Context RoutingContext ctx) {
        MultiMap headers = ctx.request().headers();
        return BodyLimits.read(ctx, limits.otherLimit()).chain(body -> {
            AccessTokens.Issued access = AccessTokens.issue();
            SandboxSpec spec = requests.parse(body).withAccess(Map.of(), access.hash());
            return Uni.createFrom()
                    .completionStage(() -> sandboxes.create(spec))
                    .map(sandbox -> Response.status(Response.Status.CREATED) // created(uri) needs the request's thread
                            .header("Location", "/sandboxes/" + sandbox.id())
                            .entity(SandboxInfo.of(sandbox, access.token()))
                            .build())
                    .onFailure(e -> e instanceof SandboxException full
                            && full.kind() == SandboxException.Kind.UNAVAILABLE
                            && fleet.enabled()
                            && !headers.contains(Forwarder.FORWARDED))
                    .recoverWithUni(full -> placeElsewhere(headers, body, (SandboxException) full));
        });
    }

    /** Fleet mode: this instance is full; the first other instance with room creates it. */
    private Uni<Response> placeElsewhere(MultiMap headers, byte[] body, SandboxException full) {
        return Uni.createFrom()
                .completionStage(placement.placeElsewhere(headers, Buffer.buffer(body)))
                .map(reply -> {
                    if (reply.isEmpty()) {
                        throw new SandboxException(
                                SandboxException.Kind.UNAVAILABLE,
                                "every instance of the fleet is full: " + full.getMessage(),
                                Map.of(),
                                full.retryAfter().orElse(null),
                                full);
                    }
                    Forwarder.Reply placed = reply.get();
                    Response.ResponseBuilder response = Response.status(placed.status())
                            .entity(placed.body().getBytes());
                    for (String name : List.of("Content-Type", "Location", "Retry-After")) {
                        String value = placed.headers().get(name);
                        if (value != null) {
                            response.header(name, value);
                        }
                    }
                    return response.build();
                });
    }

    @GET
    @NonBlocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(operationId = "listSandboxes", summary = "All sandboxes with their state and usage, oldest first")
    @APIResponse(
            responseCode = "200",
            description = "The sandboxes.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = SandboxList.class),
                            example = ApiDocs.SANDBOXES))
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @Parameter(
            name = "instance",
            description = "Fleet mode: list the sandboxes of this instance only (default: the whole fleet).")
    public Uni<SandboxList> list(@QueryParam("instance") String instance, @Context RoutingContext ctx) {
        SandboxList here = new SandboxList(
                sandboxes.list().stream()
                        .filter(sandbox -> !fleet.enabled()
                                || fleet.ownerOf(sandbox.id()).orElse("").equals(fleet.self()))
                        .map(SandboxInfo::of)
                        .toList(),
                List.of());
        if (instance != null && !instance.equals(fleet.self())) {
            throw SandboxException.notFound("no instance " + instance + " in this fleet");
        }
        if (!fleet.enabled() || instance != null || ctx.request().headers().contains(Forwarder.FORWARDED)) {
            return Uni.createFrom().item(here);
        }
        return Uni.createFrom()
                .completionStage(placement.listOthers(ctx.request().headers()))
                .map(others -> {
                    List<SandboxInfo> all = new ArrayList<>(here.sandboxes());
                    for (Buffer body : others.bodies()) {
                        try {
                            all.addAll(mapper.readValue(body.getBytes(), SandboxList.class)
                                    .sandboxes());
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    }
                    all.sort(Comparator.comparing(SandboxInfo::createdAt));
                    return new SandboxList(all, others.unavailable());
                });
    }

    @GET
    @Path("{id}")
    @NonBlocking
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(operationId = "pingSandbox", summary = "The ping of one sandbox")
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @APIResponse(
            responseCode = "200",
            description = "The sandbox.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = SandboxInfo.class),
                            example = ApiDocs.SANDBOX))
    public SandboxInfo get(@PathParam("id") String id) {
        return SandboxInfo.of(sandboxes.get(id));
    }

    @DELETE
    @Path("{id}")
    @Operation(
            operationId = "deleteSandbox",
            summary = "Tear a sandbox down (kernel and files)",
            description = "A running execution ends with KernelDied, queued ones fail. The default sandbox is"
                    + " wiped (kernel and files) and stays.")
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @APIResponse(responseCode = "204", description = "Deleted; a second DELETE is a 404.")
    public Uni<Response> delete(@PathParam("id") String id) {
        return Uni.createFrom()
                .completionStage(sandboxes.delete(id))
                .map(ignored -> Response.noContent().build());
    }

    @POST
    @Path("{id}/interrupt")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            operationId = "interruptSandbox",
            summary = "SIGINT to the running cell, like Ctrl-C (state kept); false when nothing runs")
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @APIResponse(
            responseCode = "200",
            description = "Whether a running cell was interrupted.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = Interrupted.class),
                            example = ApiDocs.INTERRUPTED))
    public Uni<Interrupted> interrupt(@PathParam("id") String id) {
        return Uni.createFrom().completionStage(sandboxes.get(id).interrupt()).map(Interrupted::new);
    }

    @POST
    @Path("{id}/restart")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            operationId = "restartSandbox",
            summary = "A fresh kernel for the next execution (variables lost, files kept); a running cell ends"
                    + " with KernelDied")
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @APIResponse(
            responseCode = "200",
            description = "The sandbox.",
            content =
                    @Content(
                            mediaType = MediaType.APPLICATION_JSON,
                            schema = @Schema(implementation = SandboxInfo.class),
                            example = ApiDocs.SANDBOX))
    public Uni<SandboxInfo> restart(@PathParam("id") String id) {
        Sandbox sandbox = sandboxes.get(id);
        return Uni.createFrom().completionStage(sandbox.restart()).map(ignored -> SandboxInfo.of(sandbox));
    }

    @POST
    @Path("{id}/execute")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            operationId = "executeInSandbox",
            summary = "POST /execute on this sandbox (same body, responses and streaming)",
            description = DefaultSandboxResource.EXECUTE)
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @RequestBody(ref = "Execute")
    @APIResponse(responseCode = "200", ref = "Executed")
    @APIResponse(responseCode = "413", ref = "TooLarge")
    @APIResponse(responseCode = "429", ref = "Busy")
    @APIResponse(responseCode = "503", ref = "CannotStart")
    public Uni<Response> execute(
            @PathParam("id") String id, @HeaderParam("Accept") String accept, @Context RoutingContext ctx) {
        return executions.execute(() -> sandboxes.get(id), accept, ctx);
    }

    @POST
    @Path("{id}/commands")
    @Consumes(MediaType.WILDCARD)
    @Operation(
            operationId = "commandInSandbox",
            summary = "Run a shell command in this sandbox",
            description = ApiDocs.COMMAND)
    @Parameter(ref = "Id")
    @RequestBody(ref = "Command")
    @APIResponse(responseCode = "200", ref = "Commanded")
    @APIResponse(responseCode = "400", ref = "BadCommand")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "503", ref = "CannotStart")
    public Uni<Response> command(
            @PathParam("id") String id, @HeaderParam("Accept") String accept, @Context RoutingContext ctx) {
        return executions.command(() -> sandboxes.get(id), accept, ctx);
    }

    @POST
    @Path("{id}/files/upload/-/{path: .*}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(
            operationId = "uploadToSandbox",
            summary = "POST /files/upload on this sandbox",
            description = DefaultSandboxResource.UPLOAD_DOC)
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @Parameter(ref = "Path")
    @RequestBody(ref = "File")
    @APIResponse(responseCode = "201", ref = "Uploaded")
    @APIResponse(responseCode = "403", ref = "Outside")
    @APIResponse(responseCode = "409", ref = "Exists")
    @APIResponse(responseCode = "413", ref = "NoRoom")
    public Uni<Response> upload(@PathParam("id") String id, @Context RoutingContext ctx) {
        String raw = ctx.request().path();
        return transfers.upload(
                () -> sandboxes.get(id),
                raw.substring(raw.indexOf(DefaultSandboxResource.UPLOAD) + DefaultSandboxResource.UPLOAD.length()),
                ctx);
    }

    @GET
    @Path("{id}/files/download/-/{path: .*}")
    @Operation(
            operationId = "downloadFromSandbox",
            summary = "GET /files/download on this sandbox",
            description = DefaultSandboxResource.DOWNLOAD_DOC)
    @Parameter(ref = "Id")
    @APIResponse(responseCode = "400", ref = "BadId")
    @APIResponse(responseCode = "401", ref = "Unauthorized")
    @APIResponse(responseCode = "404", ref = "NoSandbox")
    @APIResponse(responseCode = "410", ref = "Reaped")
    @Parameter(ref = "Path")
    @APIResponse(responseCode = "200", ref = "File")
    @APIResponse(responseCode = "403", ref = "Outside")
    public Uni<Response> download(@PathParam("id") String id, @Context RoutingContext ctx) {
        String raw = ctx.request().path();
        return transfers.download(
                sandboxes.get(id),
                raw.substring(raw.indexOf(DefaultSandboxResource.DOWNLOAD) + DefaultSandboxResource.DOWNLOAD.length()),
                ctx);
    }
}
