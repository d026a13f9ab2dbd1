package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * The host cgroups of our sandboxes, v1 or v2.
 *
 * <p>Each container gets {@code /interpreter-sandbox/<instance>/<container>/kernel} as its
 * {@code linux.cgroupsPath}. runsc creates that path (and applies the limits, which it only does
 * to cgroups it creates) and removes the leaf on exit, but leaves the parents: the
 * per-container parent outlives the kernel, so its hierarchical peak memory tells after a death
 * whether the sandbox ran out of memory. Teardown removes the parents.
 */
@ApplicationScoped
public class Cgroups {

    private static final Logger LOG = Logger.getLogger(Cgroups.class);
    static final Path MOUNT = Path.of("/sys/fs/cgroup");

    private final String instance;
    // Looked up once: usage is read around every execution, and the hierarchy does not change.
    private final boolean unified = Files.exists(MOUNT.resolve("cgroup.controllers"));

    public Cgroups(SandboxConfig config) {
        // Several services on one host must not sweep each other's cgroups.
        this.instance = "i"
                + Integer.toHexString(StateLayout.of(config).root().toString().hashCode());
    }

    public boolean unified() {
        return unified;
    }

    String base() {
        return "/interpreter-sandbox/" + instance;
    }

    /** The per-container parent: it outlives the kernel's leaf and holds the whole sandbox's totals. */
    private String containerPath(String containerId) {
        return base() + "/" + containerId;
    }

    /** The cgroupsPath for a container's OCI spec. */
    public String pathFor(String containerId) {
        return containerPath(containerId) + "/kernel";
    }

    /** The directory holding a controller's files for a cgroup path (v1: per controller). */
    public Path dir(String controller, String cgroupPath) {
        String relative = cgroupPath.substring(1);
        return unified() ? MOUNT.resolve(relative) : MOUNT.resolve(controller).resolve(relative);
    }

    /** Peak memory of a container (survives the kernel, see class doc); empty when unknown. */
    public Optional<Long> peakMemory(String containerId) {
        String parent = containerPath(containerId);
        String file = unified() ? "memory.peak" : "memory.max_usage_in_bytes";
        return readLong(dir("memory", parent).resolve(file));
    }

    /**
     * Process mode: creates the container's cgroup with its limits, as runsc would. Returns false
     * (and creates nothing) when the cgroup tree is not writable, e.g. in an unprivileged pod.
     */
    public boolean create(String containerId, long memory, double cpus, int pids) {
        String leaf = pathFor(containerId);
        try {
            if (unified()) {
                enableControllers(leaf);
                Path dir = Files.createDirectories(dir("memory", leaf));
                write(dir.resolve("memory.max"), memory);
                write(dir.resolve("memory.swap.max"), 0);
                setCpus(containerId, cpus);
                write(dir.resolve("pids.max"), pids);
            } else {
                write(Files.createDirectories(dir("memory", leaf)).resolve("memory.limit_in_bytes"), memory);
                Files.createDirectories(dir("cpu", leaf));
                setCpus(containerId, cpus);
                Files.createDirectories(dir("cpuacct", leaf)); // CPU time for the usage report
                write(Files.createDirectories(dir("pids", leaf)).resolve("pids.max"), pids);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            LOG.debugf("no cgroup for %s: %s", containerId, e.getMessage());
            remove(containerId);
            return false;
        }
    }

    /** Sets the CPU quota of a container's existing cgroup (made by create, or by runsc from the spec). */
    public void setCpus(String containerId, double cpus) throws IOException {
        long period = 100_000;
        long quota = Math.round(cpus * period);
        String leaf = pathFor(containerId);
        if (unified()) {
            Files.writeString(dir("cpu", leaf).resolve("cpu.max"), quota + " " + period);
        } else {
            write(dir("cpu", leaf).resolve("cpu.cfs_period_us"), period);
            write(dir("cpu", leaf).resolve("cpu.cfs_quota_us"), quota);
        }
    }

    /** v2: a controller is usable in a cgroup only when every ancestor delegates it. */
    private void enableControllers(String leaf) throws IOException {
        Path current = MOUNT;
        for (String part : leaf.substring(1).split("/")) {
            Files.writeString(current.resolve("cgroup.subtree_control"), "+memory +cpu +pids");
            current = Files.createDirectories(current.resolve(part));
        }
    }

    /** Process mode: moves a process (and so its future children) into the container's cgroup. */
    public void join(String containerId, long pid) throws IOException {
        String leaf = pathFor(containerId);
        for (String controller : unified() ? List.of("memory") : List.of("memory", "cpu", "cpuacct", "pids")) {
            write(dir(controller, leaf).resolve("cgroup.procs"), pid);
        }
    }

    /** The processes in a container's cgroup (process mode), for a kill that misses none. */
    public List<Long> processes(String containerId) {
        List<Long> pids = new ArrayList<>();
        try {
            for (String line :
                    Files.readAllLines(dir("pids", pathFor(containerId)).resolve("cgroup.procs"))) {
                if (!line.isBlank()) {
                    pids.add(Long.parseLong(line.strip()));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no cgroup, or already gone
        }
        return pids;
    }

    private static void write(Path file, long value) throws IOException {
        Files.writeString(file, Long.toString(value));
    }

    /** Memory a container's cgroup tree uses now. */
    public Optional<Long> memoryUsage(String containerId) {
        String parent = containerPath(containerId);
        return readLong(dir("memory", parent).resolve(unified() ? "memory.current" : "memory.usage_in_bytes"));
    }

    /** v1 lets the peak be reset by writing 0; v2's memory.peak only on recent kernels. Best effort. */
    public void resetPeakMemory(String containerId) {
        String parent = containerPath(containerId);
        Path file = dir("memory", parent).resolve(unified() ? "memory.peak" : "memory.max_usage_in_bytes");
        try {
            Files.writeString(file, unified() ? "reset" : "0");
        } catch (IOException e) {
            // not resettable here: the peak then counts from the kernel's start
        }
    }

    /** CPU time of a container's whole cgroup tree (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
    public Optional<Long> cpuNanos(String containerId) {
        String parent = containerPath(containerId);
        if (!unified()) {
            return readLong(dir("cpuacct", parent).resolve("cpuacct.usage"));
        }
        try {
            for (String line : Files.readAllLines(dir("cpu", parent).resolve("cpu.stat"))) {
                if (line.startsWith("usage_usec ")) {
                    return Optional.of(Long.parseLong(line.substring(11).strip()) * 1000);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // no cgroup
        }
        return Optional.empty();
    }

    /** Removes a container's cgroups in every hierarchy; missing ones are fine. */
    public void remove(String containerId) {
        removeTree(containerPath(containerId));
    }

    /** Containers that have a cgroup of this instance now (their names). */
    public Set<String> containers() {
        Set<String> names = new TreeSet<>();
        Path top = dir("memory", base());
        if (!Files.isDirectory(top)) {
            return names;
        }
        try (Stream<Path> children = Files.list(top)) {
            children.filter(Files::isDirectory)
                    .forEach(dir -> names.add(dir.getFileName().toString()));
        } catch (IOException | UncheckedIOException e) {
            LOG.warnf("cannot list %s: %s", top, e.getMessage());
        }
        return names;
    }

    /**
     * Kills every process left in one container's cgroups (a process-mode kernel whose service
     * went away, or one that slipped past its teardown). Under runsc the cgroups hold only sandbox
     * processes that runsc delete takes care of; killing them too is harmless.
     */
    public void killAll(String containerId) {
        Path top = dir("pids", containerPath(containerId));
        if (!Files.isDirectory(top)) {
            return;
        }
        try (Stream<Path> tree = Files.walk(top)) {
            for (Path procs : tree.filter(p -> p.getFileName().toString().equals("cgroup.procs"))
                    .toList()) {
                for (String line : Files.readAllLines(procs)) {
                    if (!line.isBlank()) {
                        ProcessHandle.of(Long.parseLong(line.strip())).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
            }
        } catch (IOException | UncheckedIOException | NumberFormatException e) {
            LOG.warnf("cannot kill processes left in %s: %s", top, e.getMessage());
        }
    }

    /** Removes every cgroup this service instance left behind (startup sweep). */
    public void sweep() {
        removeTree(base());
    }

    private void removeTree(String cgroupPath) {
        for (Path hierarchy : hierarchies()) {
            Path top = hierarchy.resolve(cgroupPath.substring(1));
            if (!Files.isDirectory(top)) {
                continue;
            }
            // cgroup directories can only be removed leaves first, with rmdir (their files are virtual).
            try (Stream<Path> tree = Files.walk(top)) {
                List<Path> dirs = tree.filter(Files::isDirectory)
                        .sorted(Comparator.reverseOrder())
                        .toList();
                for (Path dir : dirs) {
                    try {
                        Files.deleteIfExists(dir);
                    } catch (IOException e) {
                        LOG.warnf("cannot remove cgroup %s: %s", dir, e.getMessage());
                    }
                }
            } catch (IOException | UncheckedIOException e) {
                LOG.debugf("cgroup %s vanished while removing: %s", top, e.getMessage());
            }
        }
    }

    private List<Path> hierarchies() {
        if (unified()) {
            return List.of(MOUNT);
        }
        List<Path> result = new ArrayList<>();
        try (Stream<Path> entries = Files.list(MOUNT)) {
            entries.filter(p -> Files.isDirectory(p) && !Files.isSymbolicLink(p))
                    .forEach(result::add);
        } catch (IOException e) {
            LOG.warnf("cannot list %s: %s", MOUNT, e.getMessage());
        }
        return result;
    }

    /**
     * A one-number cgroup file. Read into a small buffer: these files claim a size of 4096 bytes,
     * so Files.readString allocated several KiB per read, three reads per execution: most of
     * what the service allocated in a loop of trivial cells.
     */
    static Optional<Long> readLong(Path file) {
        try (var channel = Files.newByteChannel(file)) {
            ByteBuffer buffer = ByteBuffer.allocate(32);
            while (buffer.hasRemaining() && channel.read(buffer) > 0) {
                // a number and a newline: one read
            }
            String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).strip();
            return text.equals("max") ? Optional.empty() : Optional.of(Long.parseLong(text));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }
}
