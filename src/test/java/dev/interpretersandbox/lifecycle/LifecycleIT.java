package dev.interpretersandbox.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.Cgroups;
import dev.interpretersandbox.isolation.RunscBackend;
import dev.interpretersandbox.isolation.RunscClient;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.sandbox.CollectingSink;
import dev.interpretersandbox.sandbox.ExecutionRequest;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import dev.interpretersandbox.sandbox.Sandbox;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxState;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a crashed run leaves behind (a running container, its cgroups, bundle, workspace) is
 * swept. The sweep also takes down the default sandbox of this test run; its next call simply
 * starts a fresh kernel.
 */
@QuarkusTest
class LifecycleIT {

    @Inject
    Lifecycle lifecycle;

    @Inject
    RunscBackend launcher;

    @Inject
    RunscClient runsc;

    @Inject
    SandboxConfig config;

    @Inject
    SandboxService sandboxes;

    @Inject
    Cgroups cgroups;

    @Test
    void destroyAllTearsEverySandboxDownAndTheNextCallStartsFresh() throws Exception {
        Sandbox sandbox = sandboxes.defaultSandbox();
        run(sandbox, "x = 1");
        String kernel = sandbox.kernelName();
        assertTrue(runsc.list().contains(kernel));

        sandboxes.destroyAll();

        assertFalse(runsc.list().contains(kernel), "container removed");
        assertEquals(SandboxState.STOPPED, sandbox.state());
        assertEquals(List.of(), cgroups.directories(kernel), "cgroups removed");
        assertEquals(ExecutionStatus.OK, run(sandbox, "print('again')").status());
    }

    @Test
    void sweepRemovesContainersCgroupsBundlesAndWorkspaces() throws Exception {
        StateLayout layout = StateLayout.of(config);
        Path workspace = layout.workspace("orphan");
        Files.createDirectories(workspace);
        Files.writeString(workspace.resolve("left-behind.txt"), "x");
        // A kernel we "forget", as a service killed with -9 would.
        KernelHandle orphan = launcher.launch("orphan", workspace, KernelLimits.defaults(config));
        String id = orphan.name();
        assertTrue(runsc.list().contains(id));

        lifecycle.sweep(layout);

        assertFalse(runsc.list().contains(id), "runsc state removed");
        assertFalse(Files.exists(layout.sandbox("orphan")), "bundle, logs and workspace removed");
        assertEquals(List.of(), cgroups.directories(id), "cgroups removed");
        assertFalse(waitAlive(orphan), "the sandbox process is gone");
    }

    private static ExecutionResult run(Sandbox sandbox, String code) {
        CollectingSink sink = new CollectingSink();
        sandbox.execute(new ExecutionRequest(code, Duration.ofSeconds(30), true), sink);
        return sink.await(Duration.ofSeconds(90));
    }

    @Inject
    Reaper reaper;

    @Test
    void theOrphanSweepRemovesContainersNoSandboxHolds() throws Exception {
        StateLayout layout = StateLayout.of(config);
        Path workspace = layout.workspace("stray");
        Files.createDirectories(workspace);
        // A kernel no sandbox holds: what a start racing a delete, or a teardown that failed, leaves.
        KernelHandle stray = launcher.launch("stray", workspace, KernelLimits.defaults(config));
        String id = stray.name();
        Sandbox sandbox = sandboxes.defaultSandbox();
        run(sandbox, "print('owned')");
        String owned = sandbox.kernelName();

        reaper.sweepOrphans(); // seen once: it may be a kernel that is just starting
        assertTrue(runsc.list().contains(id), "not removed on first sight");
        reaper.sweepOrphans();

        assertFalse(runsc.list().contains(id), "removed on second sight");
        assertFalse(waitAlive(stray), "its processes are gone");
        assertTrue(runsc.list().contains(owned), "the default sandbox's kernel is left alone");
        assertEquals(ExecutionStatus.OK, run(sandbox, "print('still here')").status());
    }

    /** Whether the kernel is still alive after up to 5 s. */
    private static boolean waitAlive(KernelHandle kernel) throws InterruptedException {
        for (int i = 0; i < 50 && kernel.alive(); i++) {
            Thread.sleep(100);
        }
        return kernel.alive();
    }
}
