package dev.interpretersandbox.mcp;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxSpec;
import dev.interpretersandbox.sandbox.Workers;
import io.quarkiverse.mcp.server.runtime.ConnectionManager;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * One sandbox per MCP session: made on the session's first tool call (a warm-pool member when
 * there is one) and deleted when the session ends, by the client's DELETE or by the MCP server's
 * idle timeout. The extension tells no one when a session goes, so a sweep every few seconds asks
 * its connection manager which sessions still exist; a DELETE is also seen as it is answered.
 *
 * <p>Also the runtime switch (sandbox.mcp.enabled): the extension's endpoint is fixed at build
 * time, so a route ahead of it answers 404 when MCP is off.
 */
@ApplicationScoped
class McpSessions {

    private static final Logger LOG = Logger.getLogger(McpSessions.class);
    private static final long SWEEP_MILLIS = 2000;
    static final String PATH = "/mcp";

    private final SandboxService sandboxes;
    private final SandboxConfig config;
    private final ConnectionManager connections;
    private final Workers workers;
    /** Session id → its sandbox's id (or the pending creation). */
    private final Map<String, CompletableFuture<String>> owned = new ConcurrentHashMap<>();

    McpSessions(SandboxService sandboxes, SandboxConfig config, ConnectionManager connections, Workers workers) {
        this.sandboxes = sandboxes;
        this.config = config;
        this.connections = connections;
        this.workers = workers;
    }

    void register(@Observes Router router) {
        router.route(PATH).order(-900).handler(this::gate);
        router.route(PATH + "/*").order(-900).handler(this::gate);
    }

    void start(@Observes StartupEvent event) {
        if (config.mcp().enabled()) {
            workers.timers().scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        }
    }

    private void gate(RoutingContext ctx) {
        if (!config.mcp().enabled()) {
            ctx.response()
                    .setStatusCode(404)
                    .putHeader("Content-Type", "application/json")
                    .end("{\"error\":\"the MCP server is off (sandbox.mcp.enabled=false)\"}");
            return;
        }
        String session = ctx.request().getHeader("Mcp-Session-Id");
        if (session != null && ctx.request().method().equals(HttpMethod.DELETE)) {
            ctx.addEndHandler(ended -> {
                if (ctx.response().getStatusCode() == 200) {
                    ended(session);
                }
            });
        }
        ctx.next();
    }

    /** The sandbox a tool call works on: the one named, or the session's own (made now if needed). */
    CompletionStage<Sandbox> sandbox(String sessionId, String sandboxId) {
        if (sandboxId != null && !sandboxId.isBlank()) {
            return CompletableFuture.completedFuture(sandboxes.get(sandboxId));
        }
        CompletableFuture<String> mine = owned.computeIfAbsent(sessionId, id -> create(id));
        return mine.thenCompose(id -> {
            if (sandboxes.find(id).isPresent()) {
                return CompletableFuture.completedFuture(sandboxes.get(id));
            }
            // reaped for being idle: the session goes on in a new sandbox
            owned.remove(sessionId, mine);
            return sandbox(sessionId, null);
        });
    }

    /** Whether the session's sandbox is one this session made (and may lose to the reaper). */
    boolean owns(String sessionId) {
        return owned.containsKey(sessionId);
    }

    private CompletableFuture<String> create(String sessionId) {
        CompletableFuture<String> made = new CompletableFuture<>();
        // off the event loop: a new sandbox's record is written durably (fsync) first
        CompletableFuture.supplyAsync(() -> sandboxes.create(SandboxSpec.defaults(config)), workers.lifecycle())
                .thenCompose(creating -> creating)
                .whenComplete((sandbox, failure) -> {
                    if (failure != null) {
                        owned.remove(sessionId, made);
                        made.completeExceptionally(failure);
                    } else {
                        LOG.infof("MCP session %s works in sandbox %s", sessionId, sandbox.id());
                        made.complete(sandbox.id());
                    }
                });
        return made;
    }

    private void sweep() {
        for (String session : owned.keySet()) {
            if (!connections.has(session)) {
                ended(session);
            }
        }
    }

    /** The session is over: its sandbox goes (a sandbox it only named stays). */
    private void ended(String session) {
        CompletableFuture<String> mine = owned.remove(session);
        if (mine == null) {
            return;
        }
        mine.thenAccept(id -> {
            try {
                sandboxes.delete(id);
                LOG.infof("MCP session %s ended: sandbox %s deleted", session, id);
            } catch (SandboxException e) {
                LOG.debugf("MCP session %s ended; its sandbox %s was gone already", session, id);
            }
        });
    }
}
