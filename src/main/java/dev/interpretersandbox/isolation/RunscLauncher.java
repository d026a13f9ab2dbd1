package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.kernel.KernelStartException;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Typed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.microprofile.faulttolerance.Retry;
import org.jboss.logging.Logger;

/** Launches kernels as {@code runsc run} containers from bundles written here. Thread-safe. */
@ApplicationScoped
@Typed(RunscLauncher.class)
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

    // One retry: a cold start can lose a race with a teardown of the same sandbox's previous
    // container (cgroup still being removed); a second failure is reported with its diagnosis.
    @Override
    @Retry(maxRetries = 1, delay = 250, delayUnit = ChronoUnit.MILLIS, retryOn = KernelStartException.class)
    public KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits) {
        long started = System.nanoTime();
        RunscKernel kernel = start(sandboxId, workspace, limits, (bundle, id) -> runsc.runCommand(bundle, id));
        kernel.awaitReady(started, config.kernel().startTimeout());
        applyCpuLimit(kernel, limits);
        return kernel;
    }

    @Override
    public java.util.Optional<String> templateKey() {
        try {
            byte[] driver = Files.readAllBytes(rootFs.driver());
            return java.util.Optional.of(String.join(
                    "|",
                    runsc.version(),
                    config.runsc().platform(),
                    config.python(),
                    config.rootfs().map(Path::toString).orElse("host"),
                    Integer.toHexString(java.util.Arrays.hashCode(driver))));
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty(); // no driver laid out yet, or no runsc: cold starts
        }
    }

    /**
     * A new container from a checkpoint image: its own bundle, cgroup and the sandbox's workspace
     * (DESIGN.md: restoring into another bundle works and the kernel sees the new /mnt/data). The
     * driver is mid-loop, so readiness is its answer to a no-op request instead of "ready".
     */
    @Override
    public KernelHandle restore(String sandboxId, Path workspace, KernelLimits limits, Path image) {
        long started = System.nanoTime();
        RunscKernel kernel =
                start(sandboxId, workspace, limits, (bundle, id) -> runsc.restoreCommand(bundle, image, id));
        kernel.awaitAnswer(started, config.kernel().startTimeout());
        applyCpuLimit(kernel, limits);
        return kernel;
    }

    /**
     * A container starts with every CPU of the host (see startCpus) and gets its own limit here,
     * once the kernel answers and before any call runs in it (a restored kernel's own background
     * threads may run meanwhile). If the limit cannot be written, the kernel is not handed out.
     */
    private void applyCpuLimit(RunscKernel kernel, KernelLimits limits) {
        try {
            cgroups.setCpus(kernel.containerId, limits.cpus());
        } catch (IOException | RuntimeException e) {
            kernel.destroy();
            throw new KernelStartException("cannot apply the CPU limit to the sandbox: " + e.getMessage(), e);
        }
    }

    /**
     * The CPU quota while a kernel starts. Restoring a checkpoint is mostly decompressing its
     * memory image, which runsc spreads over all CPUs: a 25 MB image (a kernel with numpy,
     * pandas and matplotlib) took 0.9 s to load at the 1-CPU default and 0.4 s with 2.
     */
    private double startCpus(KernelLimits limits) {
        return Math.max(limits.cpus(), Runtime.getRuntime().availableProcessors());
    }

    private RunscKernel start(
            String sandboxId,
            Path workspace,
            KernelLimits limits,
            java.util.function.BiFunction<Path, String, List<String>> command) {
        String containerId = sandboxId + "-" + sequence.incrementAndGet();
        Path bundle = layout.bundle(sandboxId, containerId);
        Path log = layout.log(sandboxId, containerId);
        Process process;
        try {
            Files.createDirectories(bundle);
            Files.createDirectories(log.getParent());
            // A dedicated root filesystem (sandbox.rootfs) brings its own /usr and /etc.
            OciSpec.Inputs inputs = config.rootfs()
                    .map(dedicated -> new OciSpec.Inputs(
                            dedicated, rootFs.driver(), false, List.of(), workspace, cgroups.pathFor(containerId)))
                    .orElseGet(() -> new OciSpec.Inputs(
                            rootFs.root(),
                            rootFs.driver(),
                            true,
                            rootFs.presentEtcBinds(),
                            workspace,
                            cgroups.pathFor(containerId)));
            mapper.writeValue(
                    bundle.resolve("config.json").toFile(),
                    OciSpec.build(mapper, config, inputs, limits, startCpus(limits)));
            process = new ProcessBuilder(command.apply(bundle, containerId))
                    .redirectError(log.toFile())
                    .start();
        } catch (IOException e) {
            throw new KernelStartException(
                    "cannot start runsc (" + config.runsc().path() + "): " + e.getMessage(), e);
        }
        KernelChannel channel = new KernelChannel(mapper, process, containerId, KernelEnvironment.maxLine(config));
        return new RunscKernel(containerId, process, channel, runsc, cgroups, bundle, log, limits.memoryBytes());
    }
}
