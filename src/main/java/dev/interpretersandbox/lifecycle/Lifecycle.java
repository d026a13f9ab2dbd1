package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.isolation.Cgroups;
import dev.interpretersandbox.isolation.IsolationBackend;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.log.LogSafe;
import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * Startup: lay out the state directory and sweep whatever a previous run left (containers,
 * cgroups, bundles, workspaces). Shutdown: tear every sandbox down.
 */
@ApplicationScoped
class Lifecycle {

    private static final Logger LOG = Logger.getLogger(Lifecycle.class);

    private final SandboxConfig config;
    private final IsolationBackend backend;
    private final Cgroups cgroups;
    private final RuntimeCheck runtime;
    private final SandboxService sandboxes;

    Lifecycle(
            SandboxConfig config,
            IsolationBackend backend,
            Cgroups cgroups,
            RuntimeCheck runtime,
            SandboxService sandboxes) {
        this.config = config;
        this.backend = backend;
        this.cgroups = cgroups;
        this.runtime = runtime;
        this.sandboxes = sandboxes;
    }

    void onStart(@Observes StartupEvent event) throws IOException {
        StateLayout layout = StateLayout.of(config);
        Files.createDirectories(layout.root());
        Files.createDirectories(layout.runtime());
        Files.createDirectories(layout.runscRoot());
        backend.prepare();
        config.defaultWorkspace().ifPresent(workspace -> checkSameFilesystem(layout, workspace));
        runtime.check()
                .ifPresentOrElse(
                        problem -> LOG.errorf(
                                "sandboxes cannot run on this host (isolation %s): %s",
                                backend.describe(), LogSafe.quote(problem)),
                        () -> LOG.infof("isolation: %s; state in %s", backend.summary(), layout.root()));
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
        Set<String> containers = backend.containers();
        containers.forEach(backend::remove);
        cgroups.sweep();
        Trees.delete(layout.sandboxes());
        layout.defaultWorkspace().ifPresent(Trees::delete);
        Trees.delete(layout.staging());
        Trees.delete(layout.bundles());
        Trees.delete(layout.scratches());
        if (!containers.isEmpty()) {
            LOG.infof("removed %d sandbox containers left by a previous run", containers.size());
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        sandboxes.shutdown();
        cgroups.sweep(); // the instance's own (now empty) cgroup directories
    }
}
