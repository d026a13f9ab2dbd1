package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.isolation.Identity;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.metrics.SandboxMetrics;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.jboss.logging.Logger;

/** The registry of sandboxes. The seed API's unprefixed paths address the sandbox {@value #DEFAULT}. */
@ApplicationScoped
public class SandboxService {

    public static final String DEFAULT = "default";
    private static final Logger LOG = Logger.getLogger(SandboxService.class);

    private final SandboxConfig config;
    private final KernelLauncher launcher;
    private final StateLayout layout;
    private final ConcurrentMap<String, Sandbox> sandboxes = new ConcurrentHashMap<>();

    private final SandboxMetrics metrics;

    public SandboxService(SandboxConfig config, KernelLauncher launcher, SandboxMetrics metrics) {
        this.config = config;
        this.launcher = launcher;
        this.metrics = metrics;
        this.layout = StateLayout.of(config);
        metrics.liveSandboxes(() ->
                sandboxes.values().stream().filter(s -> s.kernelName() != null).count());
    }

    /** The sandbox of the unprefixed API; created (not started) on first use. */
    public Sandbox defaultSandbox() {
        return sandboxes.computeIfAbsent(DEFAULT, this::newSandbox);
    }

    private Sandbox newSandbox(String id) {
        Workspace workspace = new Workspace(layout.workspace(id), layout.staging(), Identity.kernelUid(config));
        return new Sandbox(id, config, launcher, workspace, metrics);
    }

    /** Tears down every sandbox idle since before now - idle-timeout; returns how many. */
    public int reapIdle(Instant now) {
        Instant cutoff = now.minus(config.idleTimeout());
        int reaped = 0;
        for (Sandbox sandbox : sandboxes.values()) {
            if (sandbox.reapIfIdle(cutoff)) {
                LOG.infof("reaped sandbox %s, idle since %s", sandbox.id(), sandbox.lastActivity());
                reaped++;
            }
        }
        metrics.reaped(reaped);
        return reaped;
    }

    public void shutdown() {
        sandboxes.values().forEach(Sandbox::shutdown);
    }
}
