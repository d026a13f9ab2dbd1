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
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Process mode ({@code sandbox.isolation=process}): the kernel driver as a plain child process,
 * for a pod that already runs under a gVisor RuntimeClass. The same rlimits as under runsc but
 * NPROC (prlimit, see {@link #command}), the sandbox user without capabilities when the service is root (setpriv), its own
 * session for group-wide SIGINT (setsid), and its own cgroup with the memory, CPU and pids
 * limits when the cgroup tree is writable. There is no filesystem or network isolation of its
 * own: the pod (read-only root, NetworkPolicy) provides it. Thread-safe.
 */
@ApplicationScoped
@Typed(ProcessLauncher.class)
public class ProcessLauncher implements KernelLauncher {

    private static final Logger LOG = Logger.getLogger(ProcessLauncher.class);

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final Cgroups cgroups;
    private final StateLayout layout;
    private final AtomicLong sequence = new AtomicLong();

    public ProcessLauncher(SandboxConfig config, ObjectMapper mapper, Cgroups cgroups) {
        this.config = config;
        this.mapper = mapper;
        this.cgroups = cgroups;
        this.layout = StateLayout.of(config);
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

    @Override
    public KernelHandle launch(String sandboxId, Path workspace, KernelLimits limits) {
        String containerId = sandboxId + "-" + sequence.incrementAndGet();
        Path log = layout.log(sandboxId, containerId);
        Path scratch = layout.scratch(sandboxId, containerId);
        boolean root = Identity.root();
        long memory = limits.memoryBytes();
        long started = System.nanoTime();
        boolean limited = cgroups.create(containerId, memory, limits.cpus(), limits.pids());
        Process process;
        try {
            Files.createDirectories(log.getParent());
            Files.createDirectories(scratch.getParent());
            Files.createDirectory(
                    scratch, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Files.setAttribute(scratch, "unix:uid", Identity.kernelUid(config));
            Files.setAttribute(scratch, "unix:gid", Identity.kernelUid(config));
            ProcessBuilder builder = new ProcessBuilder(command(root, limits))
                    .directory(workspace.toFile())
                    .redirectError(log.toFile());
            builder.environment().clear();
            builder.environment()
                    .putAll(KernelEnvironment.variables(limits.cpus(), workspace.toString(), scratch.toString()));
            process = builder.start();
        } catch (IOException e) {
            cgroups.remove(containerId);
            throw new KernelStartException("cannot start the kernel process: " + e.getMessage(), e);
        }
        KernelChannel channel = new KernelChannel(mapper, process, containerId, KernelEnvironment.maxLine(config));
        ProcessKernel kernel = new ProcessKernel(containerId, process, channel, cgroups, log, scratch, memory);
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
