package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.isolation.Cgroups;
import dev.interpretersandbox.isolation.Identity;
import dev.interpretersandbox.isolation.RootFs;
import dev.interpretersandbox.isolation.RunscClient;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jboss.logging.Logger;

/**
 * Startup: lay out the state directory and sweep whatever a crashed previous run left (runsc
 * containers, cgroups, bundles, workspaces). Shutdown: tear every sandbox down.
 */
@ApplicationScoped
class Lifecycle {

    private static final Logger LOG = Logger.getLogger(Lifecycle.class);

    private final SandboxConfig config;
    private final RunscClient runsc;
    private final Cgroups cgroups;
    private final RootFs rootFs;
    private final RuntimeCheck runtime;
    private final SandboxService sandboxes;

    Lifecycle(
            SandboxConfig config,
            RunscClient runsc,
            Cgroups cgroups,
            RootFs rootFs,
            RuntimeCheck runtime,
            SandboxService sandboxes) {
        this.config = config;
        this.runsc = runsc;
        this.cgroups = cgroups;
        this.rootFs = rootFs;
        this.runtime = runtime;
        this.sandboxes = sandboxes;
    }

    void onStart(@Observes StartupEvent event) throws IOException {
        StateLayout layout = StateLayout.of(config);
        Files.createDirectories(layout.root());
        Files.createDirectories(layout.runtime());
        Files.createDirectories(layout.runscRoot());
        rootFs.prepare();
        config.defaultWorkspace().ifPresent(workspace -> checkSameFilesystem(layout, workspace));
        boolean process = config.isolation() == SandboxConfig.Isolation.PROCESS;
        runtime.check()
                .ifPresentOrElse(
                        problem -> LOG.errorf(
                                "sandboxes cannot run on this host (isolation %s): %s",
                                process ? "process" : "runsc", problem),
                        () -> LOG.infof(
                                process
                                        ? "isolation: process (kernels are child processes as uid %d; the pod must"
                                                + " provide gVisor, a read-only root and no network); state in %s"
                                        : "isolation: runsc (%s, platform %s, no network); state in %s",
                                process
                                        ? new Object[] {Identity.kernelUid(config), layout.root()}
                                        : new Object[] {
                                            runtime.runscVersion(),
                                            config.runsc().platform(),
                                            layout.root()
                                        }));
        sweep(layout);
        if (runtime.problem() == null) {
            sandboxes.startPool();
        }
    }

    /** Uploads stage new directories under the state directory and rename them into place. */
    private static void checkSameFilesystem(StateLayout layout, Path workspace) {
        try {
            Files.createDirectories(workspace);
            Object stateDevice = Files.getAttribute(layout.root(), "unix:dev");
            Object workspaceDevice = Files.getAttribute(workspace, "unix:dev");
            if (!stateDevice.equals(workspaceDevice)) {
                throw new IllegalStateException("sandbox.default-workspace " + workspace
                        + " must be on the same filesystem as sandbox.state-dir " + layout.root());
            }
        } catch (IOException e) {
            throw new IllegalStateException(
                    "cannot use sandbox.default-workspace " + workspace + ": " + e.getMessage(), e);
        }
    }

    /** Removes everything a previous run of this service left behind. */
    void sweep(StateLayout layout) {
        int containers = 0;
        if (config.isolation() == SandboxConfig.Isolation.RUNSC) {
            try {
                for (String id : runsc.list()) {
                    runsc.deleteForce(id);
                    containers++;
                }
            } catch (RuntimeException e) {
                LOG.warnf("cannot sweep old runsc containers: %s", e.getMessage());
            }
        }
        containers += cgroups.killAll();
        cgroups.sweep();
        Trees.delete(layout.sandboxes());
        layout.defaultWorkspace().ifPresent(Trees::delete);
        Trees.delete(layout.staging());
        if (containers > 0) {
            LOG.infof("removed %d sandbox containers left by a previous run", containers);
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        sandboxes.shutdown();
        cgroups.sweep(); // the instance's own (now empty) cgroup directories
    }
}
