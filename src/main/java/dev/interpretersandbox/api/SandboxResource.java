package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.List;

/**
 * The lifecycle API: POST /sandboxes, GET /sandboxes, GET/DELETE /sandboxes/{id},
 * POST /sandboxes/{id}/interrupt and /restart, and GET /sandboxes/{id}/files/download/-/*path.
 * Execute and upload under /sandboxes/{id}/ are the Vert.x routes ({@link ExecuteRoute},
 * {@link UploadRoute}).
 */
@Path("/sandboxes")
@Produces(MediaType.APPLICATION_JSON)
public class SandboxResource {

    public record SandboxList(List<SandboxInfo> sandboxes) {}

    public record Interrupted(boolean interrupted) {}

    private static final int MAX_BODY = 64 * 1024;

    private final SandboxService sandboxes;
    private final SandboxRequests requests;

    public SandboxResource(SandboxService sandboxes, ObjectMapper mapper, SandboxConfig config) {
        this.sandboxes = sandboxes;
        this.requests = new SandboxRequests(mapper, config);
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    public Response create(InputStream body) throws IOException {
        byte[] bytes = body == null ? new byte[0] : body.readNBytes(MAX_BODY + 1);
        if (bytes.length > MAX_BODY) {
            throw new dev.interpretersandbox.error.ServiceException(413, "the request body is larger than 64 KiB");
        }
        Sandbox sandbox = sandboxes.create(requests.parse(bytes));
        return Response.created(URI.create("/sandboxes/" + sandbox.id()))
                .entity(SandboxInfo.of(sandbox))
                .build();
    }

    @GET
    public SandboxList list() {
        return new SandboxList(sandboxes.list().stream().map(SandboxInfo::of).toList());
    }

    @GET
    @Path("{id}")
    public SandboxInfo get(@PathParam("id") String id) {
        return SandboxInfo.of(sandboxes.get(id));
    }

    @DELETE
    @Path("{id}")
    public Response delete(@PathParam("id") String id) {
        sandboxes.delete(id);
        return Response.noContent().build();
    }

    @POST
    @Path("{id}/interrupt")
    public Interrupted interrupt(@PathParam("id") String id) {
        return new Interrupted(sandboxes.get(id).interrupt());
    }

    @POST
    @Path("{id}/restart")
    public SandboxInfo restart(@PathParam("id") String id) {
        Sandbox sandbox = sandboxes.get(id);
        sandbox.restart();
        return SandboxInfo.of(sandbox);
    }

    @GET
    @Path("{id}/files/download/-/{path: .*}")
    public Response download(@PathParam("id") String id, @PathParam("path") String path) throws IOException {
        return FilesResource.download(sandboxes.get(id), WorkspacePath.parse(path));
    }
}
