package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.kernel.KernelLimits;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The reaper's choices, driven by a hand-moved clock: idle, paused too long, lifetime, busy, transfers. */
class ReaperTest {

    private static final Map<String, String> SETTINGS = Map.of(
            "sandbox.idle-timeout", "10m",
            "sandbox.sandboxes.max-lifetime", "24h",
            "sandbox.sandboxes.max-busy", "4h",
            "sandbox.sandboxes.pause.keep", "1h");

    private static Sandbox created(Core core) {
        return core.service
                .create(SandboxSpec.defaults(core.config))
                .toCompletableFuture()
                .join();
    }

    @Test
    void anIdleCreatedSandboxIsPausedThenResumedByTheNextCallWithItsKernelRestored() {
        try (Core core = new Core(SETTINGS)) {
            Sandbox sandbox = created(core);
            Core.run(sandbox, "print warm");
            core.clock.advance(Duration.ofMinutes(9));
            assertEquals(0, core.service.reapExpired(core.clock.instant()));
            assertEquals(SandboxState.IDLE, sandbox.state(), "not idle long enough");
            core.clock.advance(Duration.ofMinutes(2));
            core.service.reapExpired(core.clock.instant());
            assertEquals(SandboxState.PAUSED, sandbox.state());
            assertTrue(core.launcher.last().checkpointed);
            assertNull(sandbox.kernelName(), "no kernel holds memory while paused");
            assertEquals("back", Core.run(sandbox, "print back").stdout());
            assertEquals(1, core.launcher.restores.get(), "resumed from its image");
            assertEquals(1, core.launcher.launches.get());
        }
    }

    @Test
    void aSandboxPausedTooLongIsRemovedAndItsIdAnswersGoneWithTheReason() {
        try (Core core = new Core(SETTINGS)) {
            Sandbox sandbox = created(core);
            Core.run(sandbox, "print warm");
            core.clock.advance(Duration.ofMinutes(11));
            core.service.reapExpired(core.clock.instant());
            core.clock.advance(Duration.ofMinutes(61));
            assertEquals(1, core.service.reapExpired(core.clock.instant()));
            SandboxException gone = assertThrows(SandboxException.class, () -> core.service.get(sandbox.id()));
            assertEquals(SandboxException.Kind.GONE, gone.kind());
            assertEquals("paused for longer than 3600 s", gone.details().get("reason"));
        }
    }

    @Test
    void withoutCheckpointsAnIdleSandboxIsRemoved() {
        try (Core core = new Core(SETTINGS)) {
            core.launcher.canCheckpoint = false;
            Sandbox sandbox = created(core);
            Core.run(sandbox, "print warm");
            core.clock.advance(Duration.ofMinutes(11));
            assertEquals(1, core.service.reapExpired(core.clock.instant()));
            assertEquals(
                    SandboxException.Kind.GONE,
                    assertThrows(SandboxException.class, () -> core.service.get(sandbox.id()))
                            .kind());
            assertTrue(core.launcher.last().destroyed());
        }
    }

    @Test
    void theDefaultSandboxIsStoppedAndWipedNotRemoved() throws Exception {
        try (Core core = new Core(SETTINGS)) {
            Sandbox sandbox = core.service.defaultSandbox();
            Core.run(sandbox, "print warm");
            Files.writeString(sandbox.workspace().root().resolve("f.txt"), "x");
            core.clock.advance(Duration.ofMinutes(11));
            assertEquals(1, core.service.reapExpired(core.clock.instant()));
            assertEquals(SandboxState.STOPPED, sandbox.state());
            assertFalse(Files.exists(sandbox.workspace().root().resolve("f.txt")));
            assertEquals(sandbox, core.service.get("default"));
        }
    }

    @Test
    void theReaperNeverTouchesASandboxInACallOrATransferOrWithCallsQueued() throws Exception {
        try (Core core = new Core(Map.of("sandbox.idle-timeout", "10m"))) {
            core.launcher.canCheckpoint = false;
            Sandbox sandbox = created(core);
            Core.run(sandbox, "print warm");
            CollectingSink running = Core.start(sandbox, "gate hold", Duration.ofHours(1));
            ExecutionQueueTest.awaitState(sandbox, SandboxState.BUSY);
            core.clock.advance(Duration.ofHours(2));
            assertEquals(0, core.service.reapExpired(core.clock.instant()), "busy");
            core.launcher.open("hold");
            running.await(Duration.ofSeconds(10));
            ExecutionQueueTest.awaitState(sandbox, SandboxState.IDLE); // its result is out before the job ends

            var upload = sandbox.openUpload(WorkspacePath.parse("/mnt/data/up.bin"), 1);
            core.clock.advance(Duration.ofHours(2));
            assertEquals(0, core.service.reapExpired(core.clock.instant()), "an upload is in flight");
            upload.close();
            core.clock.advance(Duration.ofHours(2));
            assertEquals(1, core.service.reapExpired(core.clock.instant()));
        }
    }

    @Test
    void lifetimeAndBusyTimeExpireEvenAnActiveSandbox() {
        try (Core core = new Core(Map.of("sandbox.sandboxes.max-lifetime", "1h", "sandbox.idle-timeout", "10m"))) {
            Sandbox sandbox = created(core);
            Core.run(sandbox, "print warm");
            for (int i = 0; i < 7; i++) {
                core.clock.advance(Duration.ofMinutes(9));
                Core.run(sandbox, "print active");
            }
            assertEquals(1, core.service.reapExpired(core.clock.instant()));
            assertTrue(((String) assertThrows(SandboxException.class, () -> core.service.get(sandbox.id()))
                            .details()
                            .get("reason"))
                    .startsWith("older than its maximum lifetime"));
        }
    }

    /**
     * A user can keep a sandbox in use for good (a call always running or queued, commands chained,
     * an upload trickled in under the stall timeout): its maximum lifetime ends it even then.
     */
    @Test
    void theMaximumLifetimeEndsASandboxKeptInUseForGood() throws Exception {
        try (Core core = new Core(Map.of("sandbox.sandboxes.max-lifetime", "1h", "sandbox.idle-timeout", "10m"))) {
            core.launcher.canCheckpoint = false;
            Sandbox calling = created(core);
            Core.run(calling, "print warm");
            CollectingSink running = Core.start(calling, "gate forever", Duration.ofHours(2));
            ExecutionQueueTest.awaitState(calling, SandboxState.BUSY);
            Sandbox uploading = created(core);
            var upload = uploading.openUpload(WorkspacePath.parse("/mnt/data/trickle.bin"), -1);
            core.clock.advance(Duration.ofMinutes(59));
            assertEquals(0, core.service.reapExpired(core.clock.instant()), "in use, and within its lifetime");
            core.clock.advance(Duration.ofMinutes(2));
            assertEquals(2, core.service.reapExpired(core.clock.instant()), "in use, but past its lifetime");
            for (Sandbox sandbox : List.of(calling, uploading)) {
                SandboxException gone = assertThrows(SandboxException.class, () -> core.service.get(sandbox.id()));
                assertTrue(((String) gone.details().get("reason")).startsWith("older than its maximum lifetime"));
            }
            assertTrue(
                    running.result()
                            .toCompletableFuture()
                            .handle((result, failure) -> result == null || result.status() != ExecutionStatus.OK)
                            .get(10, TimeUnit.SECONDS),
                    "the call was ended");
            // The trickled upload is ended too, and the workspace goes without waiting for its client.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (Files.exists(uploading.workspace().root())) {
                assertTrue(System.nanoTime() < deadline, "the workspace went");
                Thread.onSpinWait();
            }
            assertThrows(IOException.class, () -> upload.write(ByteBuffer.wrap(new byte[1])));
        }
    }

    @Test
    void capacityCountsSandboxesAndTheirMemory() {
        try (Core core =
                new Core(Map.of("sandbox.sandboxes.max-count", "3", "sandbox.sandboxes.memory-budget", "3G"))) {
            core.service.defaultSandbox();
            SandboxSpec big =
                    new SandboxSpec(new KernelLimits(5L << 29, 1, 512, 1L << 30), Map.of(), Duration.ofMinutes(5));
            SandboxException budget = assertThrows(SandboxException.class, () -> core.service.create(big));
            assertEquals(SandboxException.Kind.UNAVAILABLE, budget.kind());
            assertTrue(budget.getMessage().contains("memory budget of 3 GiB"), budget.getMessage());
            assertTrue(budget.retryAfter().isPresent());
            created(core);
            created(core);
            SandboxException count = assertThrows(SandboxException.class, () -> created(core));
            assertTrue(count.getMessage().contains("maximum of 3 sandboxes"), count.getMessage());
        }
    }
}
