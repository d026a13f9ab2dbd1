package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.sandbox.Execution;
import dev.interpretersandbox.sandbox.ExecutionRequest;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.Workers;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jboss.resteasy.reactive.RestMulti;

/**
 * POST /execute and POST /sandboxes/{id}/execute, whatever the response format: parse, queue the
 * execution, and return its {@link EventStream} as the body. Bad input, a full queue or an unknown
 * sandbox are thrown here and become ordinary error responses; so is a kernel that cannot start,
 * since the stream fails before its first piece.
 */
@ApplicationScoped
class Executions {

    private final ObjectMapper mapper;
    private final ExecuteRequests requests;
    private final Workers workers;
    private final SandboxConfig config;
    private final BodyLimits limits;
    private final StallWatch watch;

    Executions(ObjectMapper mapper, SandboxConfig config, Workers workers, BodyLimits limits, StallWatch watch) {
        this.mapper = mapper;
        this.watch = watch;
        this.config = config;
        this.limits = limits;
        this.workers = workers;
        this.requests = new ExecuteRequests(new StrictJson(mapper), config.execute());
    }

    /** What an accepted execute returns: its stream and the response's headers. */
    private record Started(EventStream stream, Map<String, List<String>> headers) {}

    RestMulti<byte[]> execute(Supplier<Sandbox> lookup, String accept, RoutingContext ctx) {
        Uni<Started> started = BodyLimits.read(ctx, limits.executeLimit()).map(body -> {
            ExecuteRequests.ExecuteRequest parsed = requests.parse(body);
            Sandbox sandbox = lookup.get();
            EventStream.Format format = EventStream.Format.of(accept);
            EventStream stream = new EventStream(
                    format,
                    mapper,
                    watch,
                    config.http().writeStallTimeout(),
                    () -> ctx.request().connection().close());
            watch.add(stream);
            Execution execution = sandbox.execute(
                    new ExecutionRequest(parsed.code(), parsed.timeout(), format == EventStream.Format.JSON), stream);
            stream.attach(execution);
            Map<String, List<String>> headers = new LinkedHashMap<>();
            headers.put(
                    "Content-Type",
                    List.of(
                            format == EventStream.Format.SSE
                                    ? format.mediaType + "; charset=utf-8"
                                    : format.mediaType));
            if (format != EventStream.Format.JSON) {
                headers.put("Cache-Control", List.of("no-cache"));
                headers.put("X-Accel-Buffering", List.of("no")); // proxies such as nginx must not hold lines back
            }
            return new Started(stream, headers);
        });
        return RestMulti.fromUniResponse(
                started, s -> Multi.createFrom().publisher(s.stream()), Started::headers, s -> 200);
    }
}
