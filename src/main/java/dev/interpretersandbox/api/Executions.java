package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.sandbox.CommandRun;
import dev.interpretersandbox.sandbox.Execution;
import dev.interpretersandbox.sandbox.ExecutionRequest;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.Workers;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
            EventStream stream = stream(accept, ctx);
            Execution execution = sandbox.execute(
                    new ExecutionRequest(parsed.code(), parsed.timeout(), stream.format() == EventStream.Format.JSON),
                    stream);
            stream.attach(execution::cancel);
            return new Started(stream, headers(stream.format()));
        });
        return respond(started);
    }

    /**
     * POST /commands and POST /sandboxes/{id}/commands: the command's output as stream events, in
     * the same formats as execute, and its exit code at the end. A command that cannot start is an
     * ordinary error response.
     */
    RestMulti<byte[]> command(Supplier<Sandbox> lookup, String accept, RoutingContext ctx) {
        Uni<Started> started = BodyLimits.read(ctx, limits.otherLimit()).map(body -> {
            ExecuteRequests.CommandRequest parsed = requests.parseCommand(body);
            Sandbox sandbox = lookup.get();
            EventStream stream = stream(accept, ctx);
            CompletableFuture<CommandRun> run = new CompletableFuture<>();
            stream.attach(() -> run.thenAccept(CommandRun::cancel));
            sandbox.startCommand(new CommandSpec(parsed.cmd(), parsed.cwd().components(), parsed.env()))
                    .whenComplete((command, failure) -> {
                        if (failure != null) {
                            stream.failed(SandboxException.of(failure));
                            return;
                        }
                        CommandRun running = new CommandRun(
                                command,
                                stream,
                                Clock.systemUTC(),
                                config.output().maxStreamBytes().asLongValue(),
                                config.execute().interruptGrace(),
                                workers.timers(),
                                workers.lifecycle(),
                                stream.format() == EventStream.Format.JSON);
                        run.complete(running);
                        running.start(parsed.timeout());
                    });
            return new Started(stream, headers(stream.format()));
        });
        return respond(started);
    }

    private EventStream stream(String accept, RoutingContext ctx) {
        EventStream stream = new EventStream(
                EventStream.Format.of(accept),
                mapper,
                watch,
                config.http().writeStallTimeout(),
                () -> ctx.request().connection().close());
        watch.add(stream);
        return stream;
    }

    private static Map<String, List<String>> headers(EventStream.Format format) {
        Map<String, List<String>> headers = new LinkedHashMap<>();
        headers.put(
                "Content-Type",
                List.of(format == EventStream.Format.SSE ? format.mediaType + "; charset=utf-8" : format.mediaType));
        if (format != EventStream.Format.JSON) {
            headers.put("Cache-Control", List.of("no-cache"));
            headers.put("X-Accel-Buffering", List.of("no")); // proxies such as nginx must not hold lines back
        }
        return headers;
    }

    private static RestMulti<byte[]> respond(Uni<Started> started) {
        return RestMulti.fromUniResponse(
                started, s -> Multi.createFrom().publisher(s.stream()), Started::headers, s -> 200);
    }
}
