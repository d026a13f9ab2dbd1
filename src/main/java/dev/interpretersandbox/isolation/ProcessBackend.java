package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.files.Identity;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.kernel.KernelStartException;
import dev.interpretersandbox.kernel.RunningCommand;
import dev.interpretersandbox.metrics.SandboxMetrics;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Typed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.jboss.logging.Logger;

/**
 * Process mode ({@code sandbox.isolation=process}): the kernel driver as a plain child process,
 * for a pod that already runs under a gVisor RuntimeClass. The same rlimits as under runsc but
 * NPROC (prlimit, see {@link #command}), the sandbox user without capabilities when the service is
 * root (setpriv), its own session for group-wide SIGINT (setsid), and its own cgroup with the
 * memory, CPU and pids limits when the cgroup tree is writable. There is no filesystem or network
 * isolation of its own: the pod (read-only root, NetworkPolicy) provides it. Thread-safe.
 */
@ApplicationScoped
@Typed(ProcessBackend.class)
public class ProcessBackend implements IsolationBackend {

    private static final Logger LOG = Logger.getLogger(ProcessBackend.class);
    private static final Duration TOOL_CHECK_DEADLINE = Duration.ofSeconds(10);

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final Cgroups cgroups;
    private final RootFs rootFs;
    private final StateLayout layout;
    private final SandboxMetrics metrics;
    private final ContainerIds containerIds = new ContainerIds();

    public ProcessBackend(
            SandboxConfig config, ObjectMapper mapper, Cgroups cgroups, RootFs rootFs, SandboxMetrics metrics) {
        this.config = config;
        this.mapper = mapper;
        this.cgroups = cgroups;
        this.rootFs = rootFs;
        this.metrics = metrics;
        this.layout = StateLayout.of(config);
    }

    @Override
    public String describe() {
        return "process";
    }

    @Override
    public String summary() {
        return "process (kernels are child processes as uid " + kernelUid()
                + "; the pod must provide gVisor, a read-only root and no network)";
    }

    @Override
    public Optional<String> check() {
        // util-linux tools that put the limits and the user in place before Python starts.
        for (List<String> tool : List.of(
                List.of("prlimit", "--version"), List.of("setpriv", "--version"), List.of("setsid", "--version"))) {
            try {
                CommandRunner.run(tool, TOOL_CHECK_DEADLINE).orThrow();
            } catch (RuntimeException e) {
                return Optional.of(
                        tool.get(0) + " (util-linux) is not usable, and process mode needs it: " + e.getMessage());
            }
        }
        return KernelEnvironment.checkPython(config);
    }

    @Override
    public String runtimeVersion() {
        return "process";
    }

    @Override
    public void prepare() {
        rootFs.prepare(); // only its driver is used here
        try {
            cgroups.nestUnderService();
        } catch (IOException | RuntimeException e) {
            // an unprivileged pod: kernels then run without cgroups of their own (the pod is the fence)
            LOG.debugf("sandbox cgroups cannot nest under the service's own cgroup: %s", e.getMessage());
        }
    }

    /**
     * sandbox.user-id, except without root (an unprivileged pod), where kernels can only run as
     * the service's own user.
     */
    @Override
    public Optional<Long> memoryLimit() {
        return cgroups.ownMemoryLimit();
    }

    @Override
    public int kernelUid() {
        return Identity.root() ? config.userId() : Identity.uid();
    }

    @Override
    public void sweep() {
        cgroups.sweep();
    }

    @Override
    public Set<String> containers() {
        Set<String> ids = new TreeSet<>(cgroups.containers());
        try (var scratches = Files.list(layout.scratches())) {
            scratches.forEach(dir -> ids.add(dir.getFileName().toString()));
        } catch (IOException e) {
            // no scratch directory yet
        }
        return ids;
    }

    @Override
    public void remove(String containerId) {
        cgroups.killAll(containerId);
        cgroups.remove(containerId);
        Trees.delete(layout.scratch(containerId));
    }

    /**
     * The command line: prlimit, then (as root) setpriv to the sandbox user, then setsid and Python.
     * No RLIMIT_NPROC here: on a plain kernel it counts every thread of the user across all
     * sandboxes (and, unprivileged, the service's own threads). The cgroup's pids limit is the
     * fork-bomb fence instead: fork() gets EAGAIN there.
     */
    List<String> command(boolean root, KernelLimits own) {
        SandboxConfig.Limits limits = config.limits();
        List<String> command = new ArrayList<>(List.of(
                "prlimit",
                "--as=" + OciSpec.addressSpaceLimit(own.memoryBytes()),
                "--fsize=" + own.workspaceBytes(),
                "--nofile=" + limits.openFiles(),
                "--core=0"));
        command.add("--");
        command.addAll(List.of("setpriv", "--no-new-privs"));
        if (root) {
            int uid = config.userId();
            command.addAll(List.of(
                    "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"));
        }
        command.addAll(List.of(
                "--",
                "setsid",
                config.python(),
                "-X",
                "frozen_modules=on",
                layout.driver().toString()));
        return command;
    }

    /** A shell command next to a kernel: the kernel's prlimit and setpriv, then a session of its own. */
    List<String> shellCommand(boolean root, KernelLimits own, String shell, String directory, Map<String, String> env) {
        List<String> command = new ArrayList<>(command(root, own));
        int session = command.indexOf("setsid");
        command.subList(session + 1, command.size()).clear();
        command.addAll(List.of("/bin/sh", "-c", ProcessCommand.WRAPPER, shell, directory));
        env.forEach((name, value) -> command.add(name + "=" + value));
        return command;
    }

    /** Starts a command in a kernel's cgroup (when it has one), as the kernel runs. */
    RunningCommand startCommand(String containerId, Path workspace, Path scratch, KernelLimits limits, CommandSpec spec)
            throws IOException {
        String directory = spec.workspacePath().isEmpty()
                ? workspace.toString()
                : workspace + "/" + String.join("/", spec.workspacePath());
        ProcessBuilder builder = new ProcessBuilder(
                        shellCommand(Identity.root(), limits, spec.shellCommand(), directory, spec.env()))
                .directory(workspace.toFile());
        builder.environment().clear();
        builder.environment()
                .putAll(KernelEnvironment.variables(limits.cpus(), workspace.toString(), scratch.toString()));
        ProcessCommand command = new ProcessCommand(builder.start());
        try {
            if (!cgroups.containers().contains(containerId)) {
                LOG.debugf("command in %s runs without a cgroup of its own: the pod's limits apply", containerId);
            } else {
                cgroups.join(containerId, command.pid());
            }
            command.release();
        } catch (IOException | RuntimeException e) {
            command.signal("KILL");
            throw e;
        }
        return command;
    }

    @Override
    public KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits) {
        String containerId = containerIds.next(sandboxId);
        Path scratch = layout.scratch(containerId);
        boolean root = Identity.root();
        long memory = limits.memoryBytes();
        long started = System.nanoTime();
        boolean limited = cgroups.create(containerId, memory, limits.cpus(), limits.pids());
        Process process;
        try {
            Files.createDirectories(scratch.getParent());
            Files.createDirectory(
                    scratch, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Files.setAttribute(scratch, "unix:uid", kernelUid());
            Files.setAttribute(scratch, "unix:gid", kernelUid());
            ProcessBuilder builder = new ProcessBuilder(command(root, limits)).directory(workspace.toFile());
            builder.environment().clear();
            builder.environment()
                    .putAll(KernelEnvironment.variables(limits.cpus(), workspace.toString(), scratch.toString()));
            process = builder.start();
        } catch (IOException e) {
            cgroups.remove(containerId);
            Trees.delete(scratch);
            throw new KernelStartException("cannot start the kernel process: " + e.getMessage(), e);
        }
        ProcessKernel kernel = new ProcessKernel(
                containerId,
                process,
                mapper,
                KernelEnvironment.channelLimits(config),
                metrics::protocolDropped,
                cgroups,
                scratch,
                memory,
                spec -> startCommand(containerId, workspace, scratch, limits, spec));
        if (limited) {
            try {
                // Python takes far longer to import IPython than this takes: no user code runs outside.
                cgroups.join(containerId, process.pid());
            } catch (IOException e) {
                kernel.destroy();
                throw new KernelStartException("cannot move the kernel into its cgroup: " + e.getMessage(), e);
            }
        } else {
            LOG.debugf("kernel %s runs without a cgroup of its own: the pod's limits apply", containerId);
        }
        kernel.awaitReady(started, config.kernel().startTimeout());
        return kernel;
    }
}
