package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.registry.RecordStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Sandboxes survive a restart of the service: the registry, re-adoption after a clean stop and
 * after a crash, damaged records, expiry across the downtime, and the graceful shutdown's order
 * (grace, interrupt, save). A "restart" is a second core on the first one's state directory.
 */
class DurabilityTest {

    private static final Map<String, String> SETTINGS = Map.of(
            "sandbox.idle-timeout", "10m",
            "sandbox.sandboxes.pause.keep", "1h",
            "sandbox.sandboxes.max-lifetime", "24h");

    private static Sandbox create(Core core, SandboxSpec spec) {
        return core.service.create(spec).toCompletableFuture().join();
    }

    private static SandboxSpec spec(Core core) {
        return new SandboxSpec(
                new KernelLimits(512L << 20, 0.5, 256, 100L << 20), Map.of("API_BASE", "x"), Duration.ofMinutes(5));
    }

    /** A second service on the same state directory, its clock where the first one's was, plus downtime. */
    private static Core restart(Core before, Duration downtime, Map<String, String> settings) {
        Core after = new Core(settings, before.state, false);
        after.clock.advance(
                Duration.between(after.clock.instant(), before.clock.instant()).plus(downtime));
        after.service.adopt();
        after.service.reapExpired(after.clock.instant());
        return after;
    }

    @Test
    void aCleanShutdownSavesEveryKernelAndTheRestartBringsThemBackPausedWithTheirSpecAndClocks() {
        try (Core first = new Core(SETTINGS)) {
            Sandbox sandbox = create(first, spec(first));
            Core.run(sandbox, "print x");
            Sandbox idle = create(first, SandboxSpec.defaults(first.config)); // never ran: nothing to save
            Core.run(first.service.defaultSandbox(), "print d");
            first.clock.advance(Duration.ofMinutes(1));
            SandboxView before = sandbox.view();

            SandboxService.ShutdownReport report =
                    first.service.shutdown(Duration.ofSeconds(5), Duration.ofSeconds(5), 2);

            assertEquals(2, report.saved(), "the sandbox and the default one");
            assertEquals(1, report.idle());
            assertEquals(0, report.lost() + report.unsaved());
            try (Core second = restart(first, Duration.ofSeconds(30), SETTINGS)) {
                Sandbox back = second.service.get(sandbox.id());
                assertEquals(SandboxState.PAUSED, back.state());
                assertEquals(sandbox.spec(), back.spec(), "limits, env and idle timeout");
                assertEquals(before.createdAt(), back.view().createdAt());
                assertEquals(before.lastActivity(), back.view().lastActivity(), "the idle clock runs on");
                assertEquals(
                        SandboxState.PAUSED, second.service.defaultSandbox().state());
                assertEquals(SandboxState.STOPPED, second.service.get(idle.id()).state());

                Core.Run run = Core.run(back, "print again");
                assertEquals("again", run.stdout());
                assertEquals(List.of(), run.errors(), "restored without a notice");
                assertEquals(1, second.launcher.restores.get());
            }
        }
    }

    @Test
    void afterACrashTheSandboxesComeBackStoppedAndTheFirstExecutionIsToldVariablesWereLost() {
        Core first = new Core(SETTINGS);
        Sandbox sandbox = create(first, spec(first));
        Core.run(sandbox, "print x");
        first.abandon(); // as kill -9: no shutdown, kernels left running
        try (Core second = restart(first, Duration.ofSeconds(10), SETTINGS)) {
            Sandbox back = second.service.get(sandbox.id());
            assertEquals(SandboxState.STOPPED, back.state());
            Core.Run run = Core.run(back, "print fresh");
            assertEquals(List.of("KernelDied"), run.errors());
            assertTrue(run.errorValue("KernelDied").contains("restarted unexpectedly"), run.errorValue("KernelDied"));
            assertTrue(run.errorValue("KernelDied").contains("files in /mnt/data are kept"));
            assertEquals("fresh", run.stdout());
            assertEquals(List.of(), Core.run(back, "print once").errors(), "told once");
        } finally {
            first.delete();
        }
    }

    @Test
    void theCrashNoticeSurvivesASecondRestartBeforeAnyoneCalled() {
        Core first = new Core(SETTINGS);
        Sandbox sandbox = create(first, spec(first));
        Core.run(sandbox, "print x");
        first.abandon();
        Core second = restart(first, Duration.ofSeconds(1), SETTINGS);
        second.service.shutdown(Duration.ofSeconds(1), Duration.ofSeconds(1), 1);
        second.abandon();
        try (Core third = restart(second, Duration.ofSeconds(1), SETTINGS)) {
            Core.Run run = Core.run(third.service.get(sandbox.id()), "print y");
            assertEquals(List.of("KernelDied"), run.errors());
        } finally {
            first.delete();
        }
    }

    @Test
    void aDamagedRecordOrAMissingImageAffectsOnlyItsOwnSandbox() throws Exception {
        Core first = new Core(SETTINGS);
        Sandbox torn = create(first, spec(first));
        Sandbox imageless = create(first, spec(first));
        Sandbox intact = create(first, spec(first));
        for (Sandbox sandbox : List.of(torn, imageless, intact)) {
            Core.run(sandbox, "print x");
        }
        first.service.shutdown(Duration.ofSeconds(5), Duration.ofSeconds(5), 2);
        first.abandon();
        Path record = first.state.resolve("sandboxes").resolve(torn.id()).resolve(RecordStore.FILE);
        byte[] bytes = Files.readAllBytes(record);
        Files.write(record, Arrays.copyOf(bytes, bytes.length / 2));
        Trees.delete(first.state.resolve("sandboxes").resolve(imageless.id()).resolve("checkpoint"));

        try (Core second = restart(first, Duration.ofSeconds(1), SETTINGS)) {
            SandboxException gone = assertThrows(SandboxException.class, () -> second.service.get(torn.id()));
            assertEquals(SandboxException.Kind.GONE, gone.kind());
            assertTrue(gone.getMessage().contains("could not be brought back"), gone.getMessage());
            assertTrue(Files.exists(record), "its directory is left for an operator");

            Core.Run run = Core.run(second.service.get(imageless.id()), "print fresh");
            assertEquals(List.of("KernelDied"), run.errors());
            assertTrue(run.errorValue("KernelDied").contains("saved image was missing"));

            Sandbox back = second.service.get(intact.id());
            assertEquals(SandboxState.PAUSED, back.state());
            assertEquals(List.of(), Core.run(back, "print ok").errors());
        } finally {
            first.delete();
        }
    }

    @Test
    void aDamagedDefaultRecordBringsBackAFreshDefaultSandboxThatSaysWhy() throws Exception {
        Core first = new Core(SETTINGS);
        Core.run(first.service.defaultSandbox(), "print x");
        first.service.shutdown(Duration.ofSeconds(5), Duration.ofSeconds(5), 1);
        first.abandon();
        Files.writeString(first.state.resolve("sandboxes/default").resolve(RecordStore.FILE), "{\"version\": 1,");
        try (Core second = restart(first, Duration.ofSeconds(1), SETTINGS)) {
            Core.Run run = Core.run(second.service.defaultSandbox(), "print fresh");
            assertEquals(List.of("KernelDied"), run.errors());
            assertTrue(run.errorValue("KernelDied").contains("record could not be read"));
        } finally {
            first.delete();
        }
    }

    @Test
    void expiryKeepsCountingWhileTheServiceIsDown() {
        Map<String, String> noPause = new HashMap<>(SETTINGS);
        noPause.put("sandbox.sandboxes.pause.enabled", "false");
        Core first = new Core(noPause);
        Sandbox shortLived =
                create(first, new SandboxSpec(KernelLimits.defaults(first.config), Map.of(), Duration.ofSeconds(3)));
        Sandbox longLived = create(first, SandboxSpec.defaults(first.config));
        Core.run(shortLived, "print x");
        Core.run(longLived, "print x");
        first.service.shutdown(Duration.ofSeconds(5), Duration.ofSeconds(5), 2);
        first.abandon();
        try (Core second = restart(first, Duration.ofSeconds(5), noPause)) {
            SandboxException gone = assertThrows(SandboxException.class, () -> second.service.get(shortLived.id()));
            assertEquals(SandboxException.Kind.GONE, gone.kind());
            assertEquals("idle for longer than 3 s", gone.details().get("reason"));
            Path dir = second.state.resolve("sandboxes").resolve(shortLived.id());
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (Files.exists(dir) && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // removed on a lifecycle thread once its delete completes
            }
            assertFalse(Files.exists(dir), "files removed");
            assertEquals(SandboxState.PAUSED, second.service.get(longLived.id()).state());
            second.abandon();
            try (Core third = restart(second, Duration.ofSeconds(1), noPause)) {
                assertEquals(
                        SandboxException.Kind.GONE,
                        assertThrows(SandboxException.class, () -> third.service.get(shortLived.id()))
                                .kind(),
                        "still 410 after another restart");
            }
        } finally {
            first.delete();
        }
    }

    @Test
    void aSavedSandboxThatWouldHaveBeenPausedCountsAsPausedFromItsIdleTimeout() {
        Core first = new Core(SETTINGS);
        Sandbox sandbox = create(first, spec(first)); // idle timeout 5 min, pause kept 1 h
        Core.run(sandbox, "print x");
        first.service.shutdown(Duration.ofSeconds(5), Duration.ofSeconds(5), 1);
        first.abandon();
        try (Core second = restart(first, Duration.ofMinutes(30), SETTINGS)) {
            assertEquals(SandboxState.PAUSED, second.service.get(sandbox.id()).state(), "paused, not removed");
            second.abandon();
            try (Core third = restart(second, Duration.ofMinutes(40), SETTINGS)) {
                SandboxException gone = assertThrows(SandboxException.class, () -> third.service.get(sandbox.id()));
                assertEquals("paused for longer than 3600 s", gone.details().get("reason"));
            }
        } finally {
            first.delete();
        }
    }

    @Test
    void aDeletedSandboxDoesNotComeBack() {
        Core first = new Core(SETTINGS);
        Sandbox sandbox = create(first, spec(first));
        Core.run(sandbox, "print x");
        first.service.delete(sandbox.id()).toCompletableFuture().join();
        first.abandon();
        try (Core second = restart(first, Duration.ofSeconds(1), SETTINGS)) {
            assertEquals(
                    SandboxException.Kind.NOT_FOUND,
                    assertThrows(SandboxException.class, () -> second.service.get(sandbox.id()))
                            .kind());
        } finally {
            first.delete();
        }
    }

    @Test
    void shutdownRefusesNewWorkLetsTheRunningCellFinishWithinTheGraceAndInterruptsItAfter() {
        try (Core core = new Core(SETTINGS)) {
            Sandbox quick = create(core, spec(core));
            Sandbox slow = create(core, spec(core));
            Core.run(quick, "print warm");
            Core.run(slow, "print warm");
            core.launcher.gates.put("quick", new CountDownLatch(1));
            CollectingSink finishing = Core.start(quick, "gate quick; print finished", Duration.ofSeconds(30));
            CollectingSink hanging = Core.start(slow, "sleep 60000", Duration.ofSeconds(90));
            CollectingSink queued = Core.start(slow, "print never", Duration.ofSeconds(30));

            Thread shutdown = new Thread(() -> core.service.shutdown(Duration.ofMillis(500), Duration.ofSeconds(5), 2));
            shutdown.start();
            awaitDraining(core);
            SandboxException refused =
                    assertThrows(SandboxException.class, () -> Core.start(quick, "print new", Duration.ofSeconds(5)));
            assertEquals(SandboxException.Kind.UNAVAILABLE, refused.kind());
            assertNotNull(refused.retryAfter());
            assertEquals(
                    SandboxException.Kind.UNAVAILABLE,
                    assertThrows(SandboxException.class, () -> core.service.create(spec(core)))
                            .kind());
            core.launcher.gates.get("quick").countDown(); // finishes within the grace

            assertEquals(
                    ExecutionStatus.OK, finishing.await(Duration.ofSeconds(10)).status());
            ExecutionResult interrupted = hanging.await(Duration.ofSeconds(10));
            assertEquals(ExecutionStatus.ERROR, interrupted.status());
            assertTrue(hanging.events().stream()
                    .anyMatch(e -> e.data() instanceof Event.Error error
                            && error.ename().equals("ServiceShuttingDown")));
            SandboxException dropped = assertThrows(SandboxException.class, () -> queued.await(Duration.ofSeconds(10)));
            assertEquals(SandboxException.Kind.UNAVAILABLE, dropped.kind());
            assertTrue(dropped.getMessage().contains("shutting down"), dropped.getMessage());
            join(shutdown);
            assertEquals(SandboxState.PAUSED, quick.state());
            assertEquals(SandboxState.PAUSED, slow.state());
        }
    }

    @Test
    void withoutCheckpointsShutdownKeepsTheFilesAndTheNextExecutionIsToldWhy() {
        Core first = new Core(SETTINGS);
        first.launcher.canCheckpoint = false;
        Sandbox sandbox = create(first, spec(first));
        Core.run(sandbox, "print x");
        SandboxService.ShutdownReport report = first.service.shutdown(Duration.ofSeconds(1), Duration.ofSeconds(5), 1);
        assertEquals(1, report.lost());
        first.abandon();
        try (Core second = restart(first, Duration.ofSeconds(1), SETTINGS)) {
            Core.Run run = Core.run(second.service.get(sandbox.id()), "print y");
            assertEquals(List.of("KernelDied"), run.errors());
            assertTrue(run.errorValue("KernelDied").contains("cannot be saved"), run.errorValue("KernelDied"));
        } finally {
            first.delete();
        }
    }

    private static void awaitDraining(Core core) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!core.service.draining()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the shutdown did not begin");
            }
            Thread.onSpinWait();
        }
    }

    private static void join(Thread thread) {
        try {
            thread.join(Duration.ofSeconds(20).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertFalse(thread.isAlive(), "the shutdown ended");
    }
}
