package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.cluster.Fleet;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import dev.interpretersandbox.isolation.IsolationBackend;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.log.LogSafe;
import dev.interpretersandbox.registry.RecordStore;
import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import org.jboss.logging.Logger;

/**
 * Startup: lay out the state directory, sweep whatever a previous run left that no sandbox needs,
 * and bring back every sandbox of the registry. Shutdown: save every sandbox, then tear down.
 */
@ApplicationScoped
class Lifecycle {

    private static final Logger LOG = Logger.getLogger(Lifecycle.class);

    private final SandboxConfig config;
    private final IsolationBackend backend;
    private final RuntimeCheck runtime;
    private final SandboxService sandboxes;
    private final Clock clock;
    private final Fleet fleet;

    Lifecycle(
            SandboxConfig config,
            IsolationBackend backend,
            RuntimeCheck runtime,
            SandboxService sandboxes,
            Clock clock,
            Fleet fleet) {
        this.fleet = fleet;
        this.config = config;
        this.backend = backend;
        this.runtime = runtime;
        this.sandboxes = sandboxes;
        this.clock = clock;
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
        if (!WorkspacePath.FILE_NAMES.equals(StandardCharsets.UTF_8)) {
            LOG.warnf(
                    "the service runs without a UTF-8 locale: file names are %s, and a file name outside it is"
                            + " refused (400) and shows garbled in file events; start it with LANG=C.UTF-8",
                    WorkspacePath.FILE_NAMES);
        }
        sweep(layout);
        if (config.sandboxes().durable()) {
            SandboxService.Adoption adopted = sandboxes.adopt();
            int expired = sandboxes.reapExpired(clock.instant());
            LOG.infof(
                    "sandboxes brought back: %d paused, %d stopped, %d after an unclean stop (variables lost),"
                            + " %d damaged; %d expired while the service was down",
                    adopted.paused(), adopted.stopped(), adopted.recovered(), adopted.damaged(), expired);
        } else {
            LOG.info("sandbox.sandboxes.durable=false: sandboxes start empty and are not kept across restarts");
        }
        if (!fleet.enabled() || fleet.self().equals(fleet.defaultInstance())) {
            sandboxes.defaultSandbox(); // it exists (and counts against capacity) from the start
        }
        if (runtime.problem() == null) {
            sandboxes.startPool();
        }
    }

    /** Uploads stage new directories under the state directory and rename them into place. */
    private static void checkSameFilesystem(StateLayout layout, Path workspace) {
        try {
            if (!Workspace.renamesFrom(layout.staging(), workspace)) {
                throw new IllegalStateException("sandbox.default-workspace " + workspace
                        + " must be on the same filesystem and mount as sandbox.state-dir " + layout.root()
                        + ": uploads and new directories are made there and renamed into the workspace");
            }
        } catch (IOException e) {
            throw new IllegalStateException(
                    "cannot use sandbox.default-workspace " + workspace + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes what a previous run left behind that no sandbox needs: containers, cgroups, bundles,
     * scratch and staging. Sandboxes with a record (workspace, image, record) are kept for
     * {@link SandboxService#adopt}; directories without one (warm-pool members, a creation that
     * did not finish) go.
     */
    void sweep(StateLayout layout) {
        Set<String> containers = backend.containers();
        containers.forEach(backend::remove);
        backend.sweep();
        if (!config.sandboxes().durable()) {
            Trees.delete(layout.sandboxes());
            Trees.delete(layout.removed());
            layout.defaultWorkspace().ifPresent(Trees::delete);
        }
        try (DirectoryStream<Path> dirs =
                Files.isDirectory(layout.sandboxes()) ? Files.newDirectoryStream(layout.sandboxes()) : null) {
            if (dirs != null) {
                for (Path dir : dirs) {
                    if (!Files.exists(dir.resolve(RecordStore.FILE))) {
                        Trees.delete(dir);
                    }
                }
            }
        } catch (IOException e) {
            LOG.warnf("cannot sweep %s: %s", layout.sandboxes(), LogSafe.quote(e.getMessage()));
        }
        Trees.delete(layout.staging());
        Trees.delete(layout.bundles());
        Trees.delete(layout.scratches());
        if (!containers.isEmpty()) {
            LOG.infof("removed %d sandbox containers left by a previous run", containers.size());
        }
    }

    /**
     * Graceful shutdown (SIGTERM), first phase: readiness goes down and new work is refused,
     * running executions get sandbox.shutdown.grace, then every sandbox is saved to disk. This
     * runs while the HTTP server still serves (Quarkus' pre-shutdown, with
     * quarkus.shutdown.delay-enabled), so the clients of running executions get their results.
     */
    void onShutdownBegins(@Observes ShutdownDelayInitiatedEvent event) {
        SandboxConfig.Shutdown settings = config.shutdown();
        int threads = settings.saveThreads().orElse(Runtime.getRuntime().availableProcessors());
        LOG.infof(
                "shutting down: running executions get %d s, then every sandbox is saved (%d at a time)",
                settings.grace().toSeconds(), threads);
        SandboxService.ShutdownReport report = sandboxes.shutdown(
                settings.grace(), config.sandboxes().durable() ? settings.saveTimeout() : Duration.ZERO, threads);
        LOG.infof(
                "shutdown: %d sandboxes saved, %d had no kernel, %d could not be saved, %d not saved within %d s;"
                        + " took %d ms",
                report.saved(),
                report.idle(),
                report.lost(),
                report.unsaved(),
                settings.saveTimeout().toSeconds(),
                report.took().toMillis());
    }

    /** Last phase: whatever still runs is torn down (everything worth keeping was saved before). */
    void onStop(@Observes ShutdownEvent event) {
        sandboxes.destroyAll();
        backend.sweep(); // the instance's own (now empty) cgroup directories
    }
}
