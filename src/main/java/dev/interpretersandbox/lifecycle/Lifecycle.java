package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.Cgroups;
import dev.interpretersandbox.isolation.RootFs;
import dev.interpretersandbox.isolation.RunscClient;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.sandbox.SandboxService;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
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
        runtime.check()
                .ifPresentOrElse(
                        problem -> LOG.errorf("sandboxes cannot run on this host: %s", problem),
                        () -> LOG.infof(
                                "isolation: runsc (%s, platform %s, no network); state in %s",
                                runtime.runscVersion(), config.runsc().platform(), layout.root()));
        sweep(layout);
    }

    /** Removes everything a previous run of this service left behind. */
    void sweep(StateLayout layout) {
        int containers = 0;
        try {
            for (String id : runsc.list()) {
                runsc.deleteForce(id);
                containers++;
            }
        } catch (RuntimeException e) {
            LOG.warnf("cannot sweep old runsc containers: %s", e.getMessage());
        }
        cgroups.sweep();
        deleteTree(layout.sandboxes());
        deleteTree(layout.staging());
        if (containers > 0) {
            LOG.infof("removed %d sandbox containers left by a previous run", containers);
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        sandboxes.shutdown();
    }

    /** Deletes a directory tree without following symlinks (walkFileTree does not by default). */
    static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                    Files.deleteIfExists(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.warnf("cannot delete %s: %s", root, e.getMessage());
        }
    }
}
