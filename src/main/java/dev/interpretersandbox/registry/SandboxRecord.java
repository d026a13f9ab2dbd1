package dev.interpretersandbox.registry;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What survives of a sandbox when the service stops or crashes: everything needed to bring it
 * back with the same id, limits, environment, clocks and files. One record per sandbox, stored
 * as {@code sandboxes/<id>/sandbox.json} by {@link RecordStore}.
 *
 * @param version the record format ({@link #VERSION}); a record of another version is damaged
 * @param kernel what the kernel was when the record was written (see {@link KernelState})
 * @param pausedAt when the reaper paused it for being idle; null when not paused, or saved at
 *     shutdown (whose idle clock keeps running)
 * @param pausable whether the reaper pauses it at its idle timeout instead of removing it
 * @param notice what the next execution is told before its code runs (e.g. that the kernel
 *     could not be saved), or null
 * @param metadata its creator's labels (absent in records of earlier builds)
 * @param accessTokenHashes SHA-256 of each of its access tokens, hex; none when only the admin token opens it
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SandboxRecord(
        int version,
        String id,
        Limits limits,
        Map<String, String> env,
        long idleTimeoutMillis,
        Instant createdAt,
        Instant lastActivity,
        long busyMillis,
        KernelState kernel,
        Instant pausedAt,
        boolean pausable,
        String notice,
        Map<String, String> metadata,
        List<String> accessTokenHashes) {

    public static final int VERSION = 1;

    public SandboxRecord {
        env = env == null ? Map.of() : Map.copyOf(env);
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        accessTokenHashes = accessTokenHashes == null ? List.of() : List.copyOf(accessTokenHashes);
    }

    /** The sandbox's limits, as POST /sandboxes chose them. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Limits(long memoryBytes, double cpus, int pids, long workspaceBytes) {}

    /** The kernel as the record last saw it. */
    public enum KernelState {
        /** No kernel: the next execution starts one; nothing was lost. */
        NONE,
        /**
         * A kernel ran. Found at startup, this means the service did not stop cleanly: the
         * variables are lost and the next execution is told.
         */
        RUNNING,
        /** The kernel is checkpointed in the sandbox's image: the next execution restores it. */
        SAVED
    }
}
