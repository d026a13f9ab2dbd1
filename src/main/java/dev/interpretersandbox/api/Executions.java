package dev.interpretersandbox.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.sandbox.CommandRun;
import dev.interpretersandbox.sandbox.CommandRuns;
import dev.interpretersandbox.sandbox.Execution;
import dev.interpretersandbox.sandbox.ExecutionRequest;
import dev.interpretersandbox.sandbox.Sandbox;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.core.Response;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * POST /execute and POST /sandboxes/{id}/execute, whatever the response format: parse, queue the
 * execution, and answer with its {@link EventStream}'s response. Bad input, a full queue or an
 * unknown sandbox are thrown here and become ordinary error responses; so is a kernel that cannot
 * start, since the stream fails before its first piece.
 */
@ApplicationScoped
class Executions {

    private final ObjectMapper mapper;
    private final ExecuteRequests requests;
    private final CommandRuns commandRuns;
    private final SandboxConfig config;
    private final BodyLimits limits;
    private final StallWatch watch;

    Executions(
            ObjectMapper mapper, SandboxConfig config, BodyLimits limits, StallWatch watch, CommandRuns commandRuns) {
        this.commandRuns = commandRuns;
        this.mapper = mapper;
        this.watch = watch;
        this.config = config;
        this.limits = limits;
        this.requests = new ExecuteRequests(new StrictJson(mapper), config.execute());
    }

    Uni<Response> execute(Supplier<Sandbox> lookup, String accept, RoutingContext ctx) {
        return BodyLimits.read(ctx, limits.executeLimit()).chain(body -> {
            ExecuteRequests.ExecuteRequest parsed = requests.parse(body);
            Sandbox sandbox = lookup.get();
            EventStream stream = stream(accept, ctx);
            Execution execution = sandbox.execute(
                    new ExecutionRequest(parsed.code(), parsed.timeout(), stream.format() == EventStream.Format.JSON),
                    stream);
            stream.attach(execution::cancel);
            return Uni.createFrom().completionStage(stream.answer());
        });
    }

    /**
     * POST /commands and POST /sandboxes/{id}/commands: the command's output as stream events, in
     * the same formats as execute, and its exit code at the end. A command that cannot start is an
     * ordinary error response.
     */
    Uni<Response> command(Supplier<Sandbox> lookup, String accept, RoutingContext ctx) {
        return BodyLimits.read(ctx, limits.otherLimit()).chain(body -> {
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
                        CommandRun running =
                                commandRuns.of(command, stream, stream.format() == EventStream.Format.JSON);
                        run.complete(running);
                        running.start(parsed.timeout());
                    });
            return Uni.createFrom().completionStage(stream.answer());
        });
    }

    private EventStream stream(String accept, RoutingContext ctx) {
        EventStream stream = new EventStream(
                EventStream.Format.of(accept),
                mapper,
                watch,
                config.http().writeStallTimeout(),
                () -> ctx.request().connection().close());
        watch.add(stream);
        // A client that hangs up cancels what the stream belongs to, whether or not anything was
        // answered yet; so does a response that ends before the stream did (an error response).
        // An end handler, not the response's close handler: Vert.x Web takes that slot for its end
        // handlers, which hear of a close as a failed end.
        ctx.addEndHandler(ended -> stream.responseEnded(ended.succeeded()));
        if (ctx.response().closed()) {
            stream.clientGone();
        }
        return stream;
    }
}
