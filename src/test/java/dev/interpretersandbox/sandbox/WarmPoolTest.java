package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.kernel.KernelLimits;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The warm pool: filled from one template image, handed out on create, refilled, bounded, and honest about failures. */
class WarmPoolTest {

    private static Map<String, String> pool(int size, String... more) {
        Map<String, String> settings = new HashMap<>(Map.of(
                "sandbox.sandboxes.pool.size",
                String.valueOf(size),
                "sandbox.sandboxes.pool.preload",
                "print preloaded"));
        for (int i = 0; i < more.length; i += 2) {
            settings.put(more[i], more[i + 1]);
        }
        return settings;
    }

    private static void awaitReady(Core core, int members) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (core.service.poolReady() < members) {
            assertTrue(System.nanoTime() < deadline, "the pool has " + members + " ready");
            Thread.onSpinWait();
        }
    }

    @Test
    void membersAreRestoredFromOneTemplateAndHandedOutWithTheirEnvironment() {
        try (Core core = new Core(pool(2))) {
            core.service.startPool();
            awaitReady(core, 2);
            assertEquals(1, core.launcher.launches.get(), "one cold kernel built the template");
            assertEquals(2, core.launcher.restores.get(), "members are restores of it");
            SandboxSpec spec = new SandboxSpec(
                    SandboxSpec.defaults(core.config).limits(), Map.of("GREETING", "hi"), Duration.ofMinutes(5));
            Sandbox sandbox = core.service.create(spec).toCompletableFuture().join();
            assertEquals(SandboxState.IDLE, sandbox.state(), "warm: its kernel already runs");
            assertEquals(Duration.ofMinutes(5), sandbox.spec().idleTimeout());
            awaitReady(core, 2); // refilled
            assertEquals(3, core.launcher.restores.get());
        }
    }

    @Test
    void aSpecWithOtherLimitsStartsColdAndThePoolStaysAsItIs() {
        try (Core core = new Core(pool(1))) {
            core.service.startPool();
            awaitReady(core, 1);
            SandboxSpec small =
                    new SandboxSpec(new KernelLimits(256L << 20, 0.5, 128, 1L << 30), Map.of(), Duration.ofMinutes(5));
            Sandbox sandbox = core.service.create(small).toCompletableFuture().join();
            assertEquals(SandboxState.STOPPED, sandbox.state(), "started on its first call");
            assertEquals(1, core.service.poolReady());
        }
    }

    @Test
    void thePoolNeverGrowsPastTheServicesCapacity() {
        try (Core core = new Core(pool(3, "sandbox.sandboxes.max-count", "2"))) {
            core.service.startPool();
            awaitReady(core, 2);
            assertEquals(2, core.service.poolReady(), "members count like sandboxes");
        }
    }

    @Test
    void membersStartColdWhenTheBackendCannotCheckpoint() {
        try (Core core = new Core(pool(1))) {
            core.launcher.canCheckpoint = false;
            core.service.startPool();
            awaitReady(core, 1);
            assertEquals(0, core.launcher.restores.get());
            assertEquals(1, core.launcher.launches.get());
        }
    }

    @Test
    void repeatedFailuresAreReportedAndThePoolStopsTrying() {
        try (Core core = new Core(pool(1))) {
            core.launcher.failStarts = "no kernel";
            core.service.startPool();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (core.service.poolProblem() == null) {
                assertTrue(System.nanoTime() < deadline, "reported");
                Thread.onSpinWait();
            }
            assertTrue(core.service.poolProblem().contains("no kernel"), core.service.poolProblem());
            assertNull(core.service.knownKernels().stream().findAny().orElse(null), "no kernel left behind");
            assertNotNull(core.service.defaultSandbox());
        }
    }
}
