package dev.interpretersandbox.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.Event;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.SandboxService;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;

/** POST /execute : run code in the default sandbox's kernel. */
@Path("/execute")
public class ExecuteResource {

    /** A validated request. */
    public record ExecuteRequest(String code, Duration timeout) {}

    public record ExecuteResponse(String status, List<Event> events) {}

    private final SandboxService sandboxes;
    private final SandboxConfig config;
    private final ObjectMapper mapper;

    public ExecuteResource(SandboxService sandboxes, SandboxConfig config, ObjectMapper mapper) {
        this.sandboxes = sandboxes;
        this.config = config;
        this.mapper = mapper;
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    public ExecuteResponse execute(InputStream body, @HeaderParam("Content-Length") String contentLength)
            throws IOException {
        ExecuteRequest request = parse(readLimited(body, contentLength));
        ExecutionResult result = sandboxes.defaultSandbox().execute(request.code(), request.timeout());
        return new ExecuteResponse(result.status(), result.events());
    }

    private byte[] readLimited(InputStream body, String contentLength) throws IOException {
        long max = config.execute().maxRequestSize().asLongValue();
        String tooLarge = "the request body is larger than " + Sizes.human(max);
        if (UploadRoute.contentLength(contentLength) > max) {
            throw new ServiceException(413, tooLarge);
        }
        byte[] bytes = body.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, max + 1));
        if (bytes.length > max) {
            throw new ServiceException(413, tooLarge);
        }
        return bytes;
    }

    ExecuteRequest parse(byte[] bytes) {
        if (bytes.length == 0) {
            throw new ServiceException(400, "the request body is empty; send {\"code\": \"...\"}");
        }
        JsonNode node;
        try {
            node = mapper.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new ServiceException(400, "the request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ServiceException(400, "the request body cannot be read: " + e.getMessage());
        }
        if (node == null || !node.isObject()) {
            throw new ServiceException(400, "the request body must be a JSON object like {\"code\": \"...\"}");
        }
        JsonNode code = node.get("code");
        if (code == null || code.isNull()) {
            throw new ServiceException(400, "\"code\" is required");
        }
        if (!code.isTextual()) {
            throw new ServiceException(400, "\"code\" must be a string");
        }
        return new ExecuteRequest(code.asText(), timeout(node.get("timeout_secs")));
    }

    private Duration timeout(JsonNode value) {
        if (value == null || value.isNull()) {
            return config.execute().defaultTimeout();
        }
        if (!value.isNumber()) {
            throw new ServiceException(400, "\"timeout_secs\" must be a number of seconds");
        }
        double seconds = value.asDouble();
        Duration max = config.execute().maxTimeout();
        if (!(seconds > 0) || Double.isInfinite(seconds)) {
            throw new ServiceException(400, "\"timeout_secs\" must be greater than 0");
        }
        if (seconds > max.toMillis() / 1000.0) {
            throw new ServiceException(400, "\"timeout_secs\" must be at most " + max.toSeconds());
        }
        return Duration.ofNanos((long) (seconds * 1_000_000_000L));
    }
}
