package dev.interpretersandbox.lifecycle;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.RunscClient;
import dev.interpretersandbox.isolation.RunscLauncher;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelHandle;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * What a crashed run leaves behind (a running container, its cgroups, bundle, workspace) is
 * swept. The sweep also takes down the default sandbox of this test run; its next call simply
 * starts a fresh kernel.
 */
@QuarkusTest
class StartupSweepTest {

    @Inject
    Lifecycle lifecycle;

    @Inject
    RunscLauncher launcher;

    @Inject
    RunscClient runsc;

    @Inject
    SandboxConfig config;

    @Test
    void sweepRemovesContainersCgroupsBundlesAndWorkspaces() throws Exception {
        StateLayout layout = StateLayout.of(config);
        Path workspace = layout.workspace("orphan");
        Files.createDirectories(workspace);
        Files.writeString(workspace.resolve("left-behind.txt"), "x");
        // A kernel we "forget", as a service killed with -9 would.
        KernelHandle orphan = launcher.launch("orphan", workspace);
        String id = orphan.name();
        assertTrue(runsc.list().contains(id));

        lifecycle.sweep(layout);

        assertFalse(runsc.list().contains(id), "runsc state removed");
        assertFalse(Files.exists(layout.sandbox("orphan")), "bundle, logs and workspace removed");
        try (var walk = Files.walk(Path.of("/sys/fs/cgroup"), 4)) {
            assertFalse(
                    walk.anyMatch(p -> p.getFileName() != null
                            && p.getFileName().toString().equals(id)),
                    "cgroups removed");
        }
        assertFalse(waitAlive(orphan), "the sandbox process is gone");
    }

    /** Whether the kernel is still alive after up to 5 s. */
    private static boolean waitAlive(KernelHandle kernel) throws InterruptedException {
        for (int i = 0; i < 50 && kernel.alive(); i++) {
            Thread.sleep(100);
        }
        return kernel.alive();
    }
}
