package dev.interpretersandbox.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxState;
import dev.interpretersandbox.sandbox.SandboxView;
import java.time.Instant;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** A sandbox as GET /sandboxes/{id} (its ping) and GET /sandboxes show it. */
public record SandboxInfo(
        String id,
        Instant lastActivity,
        Instant expiresAt,
        Instant createdAt,
        SandboxState state,
        String kernel,
        Limits limits,
        Usage usage,

        @Schema(description = "The sandbox's own access token: only in the answer to POST /sandboxes, never again.")
        @JsonInclude(JsonInclude.Include.NON_NULL)
        String accessToken) {

    @Schema(name = "SandboxLimits")
    public record Limits(long memoryBytes, double cpus, int pids, long workspaceBytes, long idleTimeoutSecs) {}

    /** Memory in use now (null while no kernel runs) and total time spent executing. */
    @Schema(name = "SandboxUsage")
    public record Usage(Long memoryBytes, double busySecs) {}

    static SandboxInfo of(Sandbox sandbox) {
        return of(sandbox, null);
    }

    /** As POST /sandboxes answers: with the access token it issued. */
    static SandboxInfo of(Sandbox sandbox, String accessToken) {
        SandboxView view = sandbox.view();
        KernelLimits limits = view.spec().limits();
        return new SandboxInfo(
                view.id(),
                view.lastActivity(),
                view.expiresAt(),
                view.createdAt(),
                view.state(),
                view.kernel(),
                new Limits(
                        limits.memoryBytes(),
                        limits.cpus(),
                        limits.pids(),
                        limits.workspaceBytes(),
                        view.spec().idleTimeout().toSeconds()),
                new Usage(sandbox.memoryBytes().orElse(null), view.busy().toMillis() / 1000.0),
                accessToken);
    }
}
