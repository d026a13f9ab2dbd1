package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelLimits;
import java.nio.file.Path;
import java.util.List;

/**
 * The OCI runtime spec of one sandbox: read-only allow-list root, the workspace as /mnt/data,
 * a size-limited /tmp, a non-root user without capabilities, rlimits inside and cgroup limits
 * outside.
 */
public final class OciSpec {

    /** What differs between sandboxes. */
    public record Inputs(
            Path rootfs, Path driver, boolean bindHostUsr, List<String> etcBinds, Path workspace, String cgroupsPath) {}

    /** The init process inside the sandbox (Debian package tini; the host's /usr is the sandbox's). */
    public static final String INIT = "/usr/bin/tini";

    private OciSpec() {}

    public static ObjectNode build(ObjectMapper mapper, SandboxConfig config, Inputs in, KernelLimits own) {
        return build(mapper, config, in, own, own.cpus());
    }

    /**
     * As {@link #build(ObjectMapper, SandboxConfig, Inputs, KernelLimits)}, with the cgroup's CPU
     * quota at startCpus: the launcher lowers it to the sandbox's own limit once the kernel answers.
     */
    public static ObjectNode build(
            ObjectMapper mapper, SandboxConfig config, Inputs in, KernelLimits own, double startCpus) {
        SandboxConfig.Limits limits = config.limits();
        ObjectNode spec = mapper.createObjectNode();
        spec.put("ociVersion", "1.0.2");

        ObjectNode process = spec.putObject("process");
        process.put("terminal", false);
        ObjectNode user = process.putObject("user");
        user.put("uid", config.userId());
        user.put("gid", config.userId());
        // tini as PID 1: it reaps orphaned grandchildren (which would otherwise stay zombies and
        // use up RLIMIT_NPROC) and forwards signals; -g sends runsc's SIGINT to the driver's
        // whole process group, so a running subprocess is interrupted too, as Ctrl-C would.
        process.putArray("args")
                .add(INIT)
                .add("-g")
                .add("--")
                .add(config.python())
                .add("-X")
                .add("frozen_modules=on")
                .add(RootFs.DRIVER_IN_SANDBOX);
        ArrayNode env = process.putArray("env");
        KernelEnvironment.variables(own.cpus(), "/mnt/data", "/tmp")
                .forEach((name, value) -> env.add(name + "=" + value));
        process.put("cwd", "/mnt/data");
        ObjectNode caps = process.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "inheritable", "permitted", "ambient")) {
            caps.putArray(set);
        }
        long memory = own.memoryBytes();
        ArrayNode rlimits = process.putArray("rlimits");
        // NPROC: a fork bomb gets EAGAIN from the sentry long before the cgroup pids limit kills the sandbox.
        rlimit(rlimits, "RLIMIT_NPROC", limits.processes());
        // AS below the memory limit: big allocations raise MemoryError instead of killing the sandbox.
        rlimit(rlimits, "RLIMIT_AS", addressSpaceLimit(memory));
        rlimit(rlimits, "RLIMIT_FSIZE", own.workspaceBytes());
        rlimit(rlimits, "RLIMIT_NOFILE", limits.openFiles());
        rlimit(rlimits, "RLIMIT_CORE", 0);
        process.put("noNewPrivileges", true);

        ObjectNode root = spec.putObject("root");
        root.put("path", in.rootfs().toString());
        root.put("readonly", true);
        spec.put("hostname", "sandbox");

        ArrayNode mounts = spec.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc");
        if (in.bindHostUsr()) {
            bind(mounts, "/usr", Path.of("/usr"), "ro");
            // What the host's administrator installed by hand is not part of the sandbox.
            mount(mounts, "/usr/local", "tmpfs", "tmpfs")
                    .putArray("options")
                    .add("ro")
                    .add("nosuid")
                    .add("nodev")
                    .add("mode=755")
                    .add("size=4096");
        }
        for (String entry : in.etcBinds()) {
            bind(mounts, "/etc/" + entry, Path.of("/etc", entry), "ro");
        }
        bind(mounts, RootFs.DRIVER_IN_SANDBOX, in.driver(), "ro");
        bind(mounts, "/mnt/data", in.workspace(), "rw");
        ObjectNode tmp = mount(mounts, "/tmp", "tmpfs", "tmpfs");
        tmp.putArray("options")
                .add("nosuid")
                .add("nodev")
                .add("mode=1777")
                .add("size=" + limits.tmpSize().asLongValue());

        ObjectNode linux = spec.putObject("linux");
        ArrayNode namespaces = linux.putArray("namespaces");
        for (String ns : List.of("pid", "network", "ipc", "uts", "mount")) {
            namespaces.addObject().put("type", ns);
        }
        linux.put("cgroupsPath", in.cgroupsPath());
        ObjectNode resources = linux.putObject("resources");
        resources.putObject("memory").put("limit", memory);
        resources.putObject("pids").put("limit", own.pids());
        long period = 100_000;
        resources.putObject("cpu").put("period", period).put("quota", Math.round(startCpus * period));
        return spec;
    }

    /** RLIMIT_AS for a memory limit: 85% of it, leaving room for the sentry and gofer in the same cgroup. */
    public static long addressSpaceLimit(long memory) {
        return memory / 100 * 85;
    }

    private static void rlimit(ArrayNode rlimits, String type, long value) {
        rlimits.addObject().put("type", type).put("hard", value).put("soft", value);
    }

    private static ObjectNode mount(ArrayNode mounts, String destination, String type, String source) {
        return mounts.addObject()
                .put("destination", destination)
                .put("type", type)
                .put("source", source);
    }

    private static void bind(ArrayNode mounts, String destination, Path source, String mode) {
        mount(mounts, destination, "bind", source.toString())
                .putArray("options")
                .add("rbind")
                .add(mode)
                .add("nosuid")
                .add("nodev");
    }
}
