package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.KernelMessage;
import dev.interpretersandbox.kernel.KernelStartException;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.microprofile.faulttolerance.Retry;
import org.jboss.logging.Logger;

/** Launches kernels as {@code runsc run} containers from bundles written here. Thread-safe. */
@ApplicationScoped
public class RunscLauncher implements KernelLauncher {

    private static final Logger LOG = Logger.getLogger(RunscLauncher.class);

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final RunscClient runsc;
    private final Cgroups cgroups;
    private final RootFs rootFs;
    private final StateLayout layout;
    private final AtomicLong sequence = new AtomicLong();

    public RunscLauncher(SandboxConfig config, ObjectMapper mapper, RunscClient runsc, Cgroups cgroups, RootFs rootFs) {
        this.config = config;
        this.mapper = mapper;
        this.runsc = runsc;
        this.cgroups = cgroups;
        this.rootFs = rootFs;
        this.layout = StateLayout.of(config);
    }

    /** Longest line taken from the driver: the biggest display allowed, JSON-escaped, with room to spare. */
    private int maxLine() {
        long displays = config.output().maxDisplayBytes().asLongValue();
        return (int) Math.min(Integer.MAX_VALUE - 64, 2 * displays + (1 << 20));
    }

    // One retry: a cold start can lose a race with a teardown of the same sandbox's previous
    // container (cgroup still being removed); a second failure is reported with its diagnosis.
    @Override
    @Retry(maxRetries = 1, delay = 250, delayUnit = ChronoUnit.MILLIS, retryOn = KernelStartException.class)
    public KernelHandle launch(String sandboxId, Path workspace) {
        String containerId = sandboxId + "-" + sequence.incrementAndGet();
        Path bundle = layout.bundle(sandboxId, containerId);
        Path log = layout.log(sandboxId, containerId);
        long started = System.nanoTime();
        Process process;
        try {
            Files.createDirectories(bundle);
            Files.createDirectories(log.getParent());
            OciSpec.Inputs inputs = new OciSpec.Inputs(
                    rootFs.root(), rootFs.driver(), rootFs.presentEtcBinds(), workspace, cgroups.pathFor(containerId));
            mapper.writeValue(bundle.resolve("config.json").toFile(), OciSpec.build(mapper, config, inputs));
            process = new ProcessBuilder(runsc.runCommand(bundle, containerId))
                    .redirectError(log.toFile())
                    .start();
        } catch (IOException e) {
            throw new KernelStartException(
                    "cannot start runsc (" + config.runsc().path() + "): " + e.getMessage(), e);
        }
        KernelChannel channel = new KernelChannel(mapper, process, containerId, maxLine());
        RunscKernel kernel = new RunscKernel(
                containerId,
                process,
                channel,
                runsc,
                cgroups,
                bundle,
                log,
                config.limits().memory().asLongValue());
        Duration timeout = config.kernel().startTimeout();
        long deadline = started + timeout.toNanos();
        try {
            while (true) {
                KernelMessage message = channel.next(deadline - System.nanoTime());
                if (message == null) {
                    String output = kernel.logTail();
                    kernel.destroy();
                    throw new KernelStartException("the kernel was not ready after " + timeout.toSeconds() + " s"
                            + (output.isBlank() ? "" : ": " + output));
                }
                if (message.type().equals("ready")) {
                    LOG.infof(
                            "kernel %s ready in %d ms (Python %s, IPython %s)",
                            containerId,
                            (System.nanoTime() - started) / 1_000_000,
                            message.body().path("python").asText(),
                            message.body().path("ipython").asText());
                    return kernel;
                }
                if (message.endOfStream()) {
                    String cause = kernel.deathCause();
                    kernel.destroy();
                    throw new KernelStartException("the sandbox failed to start: " + cause);
                }
            }
        } catch (InterruptedException e) {
            kernel.destroy();
            Thread.currentThread().interrupt();
            throw new KernelStartException("interrupted while starting the kernel", e);
        }
    }
}
