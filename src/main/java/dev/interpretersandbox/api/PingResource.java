package dev.interpretersandbox.api;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.error.ServiceException;
import dev.interpretersandbox.lifecycle.RuntimeCheck;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxState;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.time.Instant;

/** GET / : is the sandbox alive, and when was it last used. Never counts as activity. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
public class PingResource {

    /** The ping body; {@code last_activity} is the field SANDBOX.md defines, the rest is extra. */
    public record Ping(
            Instant lastActivity,
            Instant expiresAt,
            String sandbox,
            SandboxState state,
            String kernel,
            String isolation,
            Limits limits) {}

    public record Limits(long memoryBytes, double cpus, int pids, int processes, long workspaceBytes, long tmpBytes) {}

    private final SandboxService sandboxes;
    private final RuntimeCheck runtime;
    private final SandboxConfig config;

    public PingResource(SandboxService sandboxes, RuntimeCheck runtime, SandboxConfig config) {
        this.sandboxes = sandboxes;
        this.runtime = runtime;
        this.config = config;
    }

    @GET
    public Ping ping() {
        Sandbox sandbox = sandboxes.defaultSandbox();
        if (runtime.problem() != null) {
            throw new ServiceException(503, "the sandbox cannot be started: " + runtime.problem());
        }
        if (sandbox.state() == SandboxState.BROKEN) {
            throw new ServiceException(503, "the sandbox cannot be started: " + sandbox.startFailure());
        }
        SandboxConfig.Limits limits = config.limits();
        return new Ping(
                sandbox.lastActivity(),
                sandbox.expiresAt(),
                sandbox.id(),
                sandbox.state(),
                sandbox.kernelName(),
                config.isolation() == SandboxConfig.Isolation.PROCESS
                        ? "process"
                        : "runsc/" + config.runsc().platform(),
                new Limits(
                        limits.memory().asLongValue(),
                        limits.cpus(),
                        limits.pids(),
                        limits.processes(),
                        limits.workspaceSize().asLongValue(),
                        limits.tmpSize().asLongValue()));
    }
}
