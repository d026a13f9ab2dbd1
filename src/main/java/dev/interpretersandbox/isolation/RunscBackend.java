package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.kernel.KernelStartException;
import dev.interpretersandbox.metrics.SandboxMetrics;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Typed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;
import org.eclipse.microprofile.faulttolerance.Retry;
import org.jboss.logging.Logger;

/**
 * Runsc mode (the default): every kernel in its own gVisor container, a foreground {@code runsc
 * run} of a bundle written here, with no network, an allow-list root filesystem and its own
 * cgroup. Thread-safe.
 */
@ApplicationScoped
@Typed(RunscBackend.class)
public class RunscBackend implements IsolationBackend {

    private static final Logger LOG = Logger.getLogger(RunscBackend.class);

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final RunscClient runsc;
    private final Cgroups cgroups;
    private final RootFs rootFs;
    private final StateLayout layout;
    private final SandboxMetrics metrics;
    private final ContainerIds containerIds = new ContainerIds();
    private volatile String version;

    public RunscBackend(
            SandboxConfig config,
            ObjectMapper mapper,
            RunscClient runsc,
            Cgroups cgroups,
            RootFs rootFs,
            SandboxMetrics metrics) {
        this.config = config;
        this.mapper = mapper;
        this.runsc = runsc;
        this.cgroups = cgroups;
        this.rootFs = rootFs;
        this.metrics = metrics;
        this.layout = StateLayout.of(config);
    }

    @Override
    public String describe() {
        return "runsc/" + config.runsc().platform();
    }

    @Override
    public String summary() {
        return "runsc (" + version + ", platform " + config.runsc().platform() + ", no network)";
    }

    @Override
    public Optional<String> check() {
        try {
            version = runsc.version();
        } catch (RuntimeException e) {
            return Optional.of("runsc is not usable: " + e.getMessage());
        }
        if (config.rootfs().isPresent()) {
            Path rootfs = config.rootfs().get();
            for (String needed : List.of(OciSpec.INIT, config.python())) {
                if (!Files.isExecutable(rootfs.resolve(needed.substring(1)))) {
                    return Optional.of("the dedicated root filesystem " + rootfs + " has no " + needed
                            + " (build it with deploy/build-rootfs.sh)");
                }
            }
            return Optional.empty(); // its Python cannot be run from here; the first kernel start tells
        }
        if (!Files.isExecutable(Path.of(OciSpec.INIT))) {
            return Optional.of(OciSpec.INIT + " is missing (Debian package tini, see deploy/install-runtime.sh)");
        }
        return KernelEnvironment.checkPython(config);
    }

    @Override
    public String runtimeVersion() {
        return version;
    }

    @Override
    public void prepare() {
        rootFs.prepare();
        try {
            cgroups.nestUnderService();
        } catch (IOException | RuntimeException e) {
            // check() reports it if kernels cannot start; log why nesting was not possible
            LOG.warnf("sandbox cgroups cannot nest under the service's own cgroup: %s", e.getMessage());
        }
    }

    @Override
    public Optional<Long> memoryLimit() {
        return cgroups.ownMemoryLimit();
    }

    @Override
    public int kernelUid() {
        return config.userId();
    }

    @Override
    public boolean canCheckpoint() {
        return true;
    }

    @Override
    public void sweep() {
        cgroups.sweep();
    }

    @Override
    public Set<String> containers() {
        Set<String> ids = new TreeSet<>(cgroups.containers());
        try {
            ids.addAll(runsc.list());
        } catch (RuntimeException e) {
            LOG.warnf("cannot list runsc containers: %s", e.getMessage());
        }
        try (var bundles = Files.list(layout.bundles())) {
            bundles.forEach(bundle -> ids.add(bundle.getFileName().toString()));
        } catch (IOException e) {
            // no bundles directory yet
        }
        return ids;
    }

    @Override
    public void remove(String containerId) {
        try {
            runsc.deleteForce(containerId);
        } catch (RuntimeException e) {
            LOG.warnf("cannot delete runsc container %s: %s", containerId, e.getMessage());
        }
        cgroups.killAll(containerId);
        cgroups.remove(containerId);
        Trees.delete(layout.bundle(containerId));
    }

    // One retry: a cold start can lose a race with a teardown of the same sandbox's previous
    // container (cgroup still being removed); a second failure is reported with its diagnosis.
    @Override
    @Retry(maxRetries = 1, delay = 250, delayUnit = ChronoUnit.MILLIS, retryOn = KernelStartException.class)
    public KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits) {
        long started = System.nanoTime();
        RunscKernel kernel = start(sandboxId, workspace, limits, runsc::runCommand);
        kernel.awaitReady(started, config.kernel().startTimeout());
        applyCpuLimit(kernel, limits);
        return kernel;
    }

    @Override
    public Optional<String> templateKey() {
        try {
            byte[] driver = Files.readAllBytes(rootFs.driver());
            return Optional.of(String.join(
                    "|",
                    runsc.version(),
                    config.runsc().platform(),
                    config.python(),
                    config.rootfs().map(Path::toString).orElse("host"),
                    Integer.toHexString(Arrays.hashCode(driver))));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // no driver laid out yet, or no runsc: cold starts
        }
    }

    /**
     * A new container from a checkpoint image: its own bundle, cgroup and the sandbox's workspace
     * (restoring into another bundle works, and the kernel sees the new /mnt/data). The driver is
     * mid-loop, so readiness is its answer to a no-op request instead of "ready".
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
     * memory image, which runsc spreads over all CPUs, so a restore at the host's CPUs takes about
     * half as long as one at a single CPU.
     */
    private double startCpus(KernelLimits limits) {
        return Math.max(limits.cpus(), Runtime.getRuntime().availableProcessors());
    }

    private RunscKernel start(
            String sandboxId, Path workspace, KernelLimits limits, BiFunction<Path, String, List<String>> command) {
        String containerId = containerIds.next(sandboxId);
        Path bundle = layout.bundle(containerId);
        Process process;
        try {
            Files.createDirectories(bundle);
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
            process = new ProcessBuilder(command.apply(bundle, containerId)).start();
        } catch (IOException e) {
            throw new KernelStartException(
                    "cannot start runsc (" + config.runsc().path() + "): " + e.getMessage(), e);
        }
        return new RunscKernel(
                containerId,
                process,
                mapper,
                KernelEnvironment.channelLimits(config),
                metrics::protocolDropped,
                runsc,
                cgroups,
                bundle,
                limits.memoryBytes());
    }
}
