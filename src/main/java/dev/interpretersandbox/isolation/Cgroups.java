package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * The host cgroups of our sandboxes, v1 or v2, nested under the service's own cgroup, so whatever
 * confines the service (a pod, a systemd unit, a Docker container) confines its sandboxes too, and
 * the kubelet's eviction and the unit's stop see them.
 *
 * <p>Each container gets the relative {@code linux.cgroupsPath}
 * {@code interpreter-sandbox/<instance>/<container>/kernel}. runsc resolves a relative path
 * against its own cgroup, which is the service's: per controller on v1, and on v2 against the
 * parent of its cgroup (v2 allows no processes in a cgroup whose controllers are delegated to
 * children). So on v2 the service first moves itself (and anything else in its cgroup) into a leaf
 * child, {@value #SERVICE_LEAF}, and delegates the controllers from its original cgroup, the
 * Docker-in-Docker way; the sandboxes are then siblings of that leaf. runsc creates the path (and
 * applies the limits, which it only does to cgroups it creates) and removes the leaf on exit, but
 * leaves the parents: the per-container parent outlives the kernel, so its hierarchical peak memory
 * tells after a death whether the sandbox ran out of memory. Teardown removes the parents.
 *
 * <p>{@code <instance>} is derived from the state directory: two services on one host (or two pods
 * on one node) never sweep each other's cgroups.
 */
@ApplicationScoped
public class Cgroups {

    private static final Logger LOG = Logger.getLogger(Cgroups.class);
    static final Path MOUNT = Path.of("/sys/fs/cgroup");
    /** How long a killed process or a cgroup it just left may take to be gone. */
    private static final Duration KILL_WAIT = Duration.ofSeconds(5);

    /** v2: the leaf the service moves itself into, so its own cgroup can delegate controllers. */
    static final String SERVICE_LEAF = "interpreter-sandbox-service";

    private final String instance;
    // Looked up once: usage is read around every execution, and the hierarchy does not change.
    private final boolean unified = Files.exists(MOUNT.resolve("cgroup.controllers"));
    /** Where relative paths start, per controller (v1) or under "" (v2); see the class doc. */
    private volatile Map<String, String> parents;

    public Cgroups(SandboxConfig config) {
        // Several services on one host must not sweep each other's cgroups.
        this.instance = "i"
                + Integer.toHexString(StateLayout.of(config).root().toString().hashCode());
        this.parents = parentsOf(ownCgroups(), unified);
    }

    public boolean unified() {
        return unified;
    }

    String base() {
        return "interpreter-sandbox/" + instance;
    }

    /**
     * The service's own cgroups, from /proc/self/cgroup: controller to path on v1 (named
     * hierarchies under their name), "" to the path on v2.
     */
    static Map<String, String> ownCgroups() {
        try {
            return parseProcCgroup(Files.readAllLines(Path.of("/proc/self/cgroup")));
        } catch (IOException e) {
            LOG.warnf("cannot read /proc/self/cgroup: %s", e.getMessage());
            return Map.of();
        }
    }

    /** Parses /proc/<pid>/cgroup: "id:controllers:path" lines. */
    static Map<String, String> parseProcCgroup(List<String> lines) {
        Map<String, String> own = new HashMap<>();
        for (String line : lines) {
            String[] parts = line.split(":", 3);
            if (parts.length != 3) {
                continue;
            }
            if (parts[1].isEmpty()) {
                own.put("", parts[2]);
            } else {
                for (String controller : parts[1].split(",")) {
                    own.put(controller, parts[2]);
                }
            }
        }
        return own;
    }

    /**
     * Where runsc will resolve a relative cgroupsPath given the service's own cgroups: v1, each
     * controller's own path; v2, the parent of the own path.
     */
    static Map<String, String> parentsOf(Map<String, String> own, boolean unified) {
        if (unified) {
            String path = own.getOrDefault("", "/");
            Path parent = Path.of(path).getParent();
            return Map.of("", parent == null ? "/" : parent.toString());
        }
        Map<String, String> result = new HashMap<>(own);
        result.remove("");
        return result;
    }

    /**
     * v2, at startup: moves every process of the service's cgroup into the leaf {@link
     * #SERVICE_LEAF} and delegates memory, cpu and pids from the service's cgroup, so sandboxes
     * can be its children. Nothing to do on v1, in the root cgroup, or when the service already
     * sits in its leaf (a restart inside the same container). Throws when the tree is not writable.
     */
    public void nestUnderService() throws IOException {
        if (!unified) {
            return;
        }
        String own = ownCgroups().getOrDefault("", "/");
        Path dir = own.equals("/") ? MOUNT : MOUNT.resolve(own.substring(1));
        boolean trueRoot = own.equals("/") && !Files.exists(MOUNT.resolve("cgroup.type"));
        if (trueRoot || dir.getFileName().toString().equals(SERVICE_LEAF)) {
            // The host's root may hold processes and delegate; a leaf we made is already nested.
            parents = parentsOf(Map.of("", own), true);
            return;
        }
        // A cgroup namespace's root (Docker's --privileged) is not the real root: it may not hold
        // processes and delegate controllers at once (gVisor issue 8111), so the same applies.
        Path leaf = Files.createDirectories(dir.resolve(SERVICE_LEAF));
        // Every process, not only this one: v2 allows no process beside delegated children.
        for (int pass = 0; pass < 3; pass++) {
            List<String> pids = Files.readAllLines(dir.resolve("cgroup.procs"));
            if (pids.stream().allMatch(String::isBlank)) {
                break;
            }
            for (String pid : pids) {
                if (!pid.isBlank()) {
                    try {
                        Files.writeString(leaf.resolve("cgroup.procs"), pid.strip());
                    } catch (IOException e) {
                        LOG.debugf("process %s left the cgroup first: %s", pid, e.getMessage());
                    }
                }
            }
        }
        Files.writeString(dir.resolve("cgroup.subtree_control"), "+memory +cpu +pids");
        parents = Map.of("", own);
        LOG.infof("sandbox cgroups nest under the service's cgroup %s (the service moved into %s)", own, SERVICE_LEAF);
    }

    /** Where this service's sandbox cgroups live in the memory hierarchy (for logs and tests). */
    public Path memoryRoot() {
        return dir("memory", base());
    }

    /**
     * The memory the service's own cgroup (and its ancestors) allows, when limited: the sandboxes'
     * default memory budget is a share of it.
     */
    public Optional<Long> ownMemoryLimit() {
        Map<String, String> own = ownCgroups();
        String path = unified ? own.get("") : own.get("memory");
        if (path == null) {
            return Optional.empty();
        }
        Optional<Long> limit = Optional.empty();
        for (Path current = Path.of(path); current != null; current = current.getParent()) {
            String relative = current.toString().substring(1);
            Path file = unified
                    ? MOUNT.resolve(relative).resolve("memory.max")
                    : MOUNT.resolve("memory").resolve(relative).resolve("memory.limit_in_bytes");
            Optional<Long> here = readLong(file).filter(value -> value < (1L << 60)); // v1 "unlimited" is ~2^63
            if (here.isPresent() && (limit.isEmpty() || here.get() < limit.get())) {
                limit = here;
            }
        }
        return limit;
    }

    /** The per-container parent: it outlives the kernel's leaf and holds the whole sandbox's totals. */
    private String containerPath(String containerId) {
        return base() + "/" + containerId;
    }

    /** The cgroupsPath for a container's OCI spec. */
    public String pathFor(String containerId) {
        return containerPath(containerId) + "/kernel";
    }

    /**
     * The directory holding a controller's files for a cgroup path relative to the service's
     * cgroup (v1: per controller), as runsc resolves it.
     */
    public Path dir(String controller, String cgroupPath) {
        String parent = unified() ? parents.getOrDefault("", "/") : parents.getOrDefault(controller, "/");
        Path start = unified() ? MOUNT : MOUNT.resolve(controller);
        if (!parent.equals("/")) {
            start = start.resolve(parent.substring(1));
        }
        return start.resolve(cgroupPath);
    }

    /** Every directory a container's cgroups have now, in every hierarchy (tests check teardown). */
    public List<Path> directories(String containerId) {
        List<Path> found = new ArrayList<>();
        for (String controller : unified() ? List.of("memory") : List.of("memory", "cpu", "cpuacct", "pids")) {
            Path dir = dir(controller, containerPath(containerId));
            if (Files.isDirectory(dir)) {
                found.add(dir);
            }
        }
        return found;
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
        Path current = dir("memory", "");
        for (String part : leaf.split("/")) {
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
        List<ProcessHandle> killed = new ArrayList<>();
        // Every hierarchy, not only pids: runsc does not put all of a sandbox's processes in every
        // v1 controller alike, and a process left in any of them keeps that cgroup busy.
        for (String controller : hierarchies()) {
            Path top = dir(controller, containerPath(containerId));
            if (!Files.isDirectory(top)) {
                continue;
            }
            try (Stream<Path> tree = Files.walk(top)) {
                for (Path procs : tree.filter(p -> p.getFileName().toString().equals("cgroup.procs"))
                        .toList()) {
                    for (String line : Files.readAllLines(procs)) {
                        if (!line.isBlank()) {
                            ProcessHandle.of(Long.parseLong(line.strip())).ifPresent(process -> {
                                process.destroyForcibly();
                                killed.add(process);
                            });
                        }
                    }
                }
            } catch (IOException | UncheckedIOException | NumberFormatException e) {
                LOG.warnf("cannot kill processes left in %s: %s", top, e.getMessage());
            }
        }
        // SIGKILL is asynchronous, and a cgroup with a process still in it cannot be removed.
        long deadline = System.nanoTime() + KILL_WAIT.toNanos();
        for (ProcessHandle process : killed) {
            try {
                process.onExit().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException | TimeoutException e) {
                LOG.warnf(
                        "process %d of %s did not exit within %d ms of SIGKILL",
                        process.pid(), containerId, KILL_WAIT.toMillis());
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Removes every cgroup this service instance left behind (startup sweep). */
    public void sweep() {
        removeTree(base());
    }

    private void removeTree(String cgroupPath) {
        long deadline = System.nanoTime() + KILL_WAIT.toNanos();
        for (String controller : hierarchies()) {
            Path top = dir(controller, cgroupPath);
            if (!Files.isDirectory(top)) {
                continue;
            }
            // cgroup directories can only be removed leaves first, with rmdir (their files are virtual).
            try (Stream<Path> tree = Files.walk(top)) {
                List<Path> dirs = tree.filter(Files::isDirectory)
                        .sorted(Comparator.reverseOrder())
                        .toList();
                for (Path dir : dirs) {
                    removeDir(dir, deadline);
                }
            } catch (IOException | UncheckedIOException e) {
                LOG.debugf("cgroup %s vanished while removing: %s", top, e.getMessage());
            }
        }
    }

    /**
     * rmdir of one cgroup. A cgroup stays busy for a moment after its last process died (the
     * kernel finishes the exit asynchronously, more so under load), so a busy one is retried
     * until the deadline (one for a whole tree, so a stuck one costs {@link #KILL_WAIT} once).
     */
    private static void removeDir(Path dir, long deadline) {
        while (true) {
            try {
                Files.deleteIfExists(dir);
                return;
            } catch (IOException e) {
                boolean busy = e instanceof FileSystemException failed
                        && String.valueOf(failed.getReason()).contains("busy");
                if (!busy || System.nanoTime() > deadline) {
                    LOG.warnf("cannot remove cgroup %s: %s", dir, e.getMessage());
                    return;
                }
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The controllers to clean up in: v2 has one hierarchy; v1 one per mounted controller. */
    private List<String> hierarchies() {
        if (unified()) {
            return List.of("memory");
        }
        List<String> result = new ArrayList<>();
        try (Stream<Path> entries = Files.list(MOUNT)) {
            entries.filter(p -> Files.isDirectory(p) && !Files.isSymbolicLink(p))
                    .forEach(p -> result.add(p.getFileName().toString()));
        } catch (IOException e) {
            LOG.warnf("cannot list %s: %s", MOUNT, e.getMessage());
        }
        return result;
    }

    /** A container's usage counters, held open; see {@link Counters}. */
    public Counters counters(String containerId) {
        String parent = containerPath(containerId);
        return new Counters(
                unified
                        ? dir("cpu", parent).resolve("cpu.stat")
                        : dir("cpuacct", parent).resolve("cpuacct.usage"),
                dir("memory", parent).resolve(unified ? "memory.peak" : "memory.max_usage_in_bytes"),
                unified);
    }

    /**
     * The counters read around every execution (CPU time, and peak memory with its reset), each
     * file opened once and then read and written at offset 0, which makes the kernel generate it
     * afresh. Opening and closing them by path cost four cgroup-file opens per execution, on the
     * path of every cell, however small. Holding the peak's file open is also
     * what v2 needs: since Linux 6.12 a reset of memory.peak holds for reads through the same open
     * file only. The files are first used once the kernel is ready, when its cgroup exists: a file
     * that cannot be opened then (no cgroup in process mode, no memory.peak before Linux 5.19) is
     * not tried again. A read or write that fails reopens the file once.
     *
     * <p>Thread-safety: all methods are synchronized; an execution uses it from two threads in turn.
     */
    public static final class Counters implements Closeable {
        private final boolean unified;
        private final ByteBuffer buffer = ByteBuffer.allocate(4096);
        private final Held cpu;
        private final Held peak;
        private boolean closed;

        Counters(Path cpuFile, Path peakFile, boolean unified) {
            this.unified = unified;
            this.cpu = new Held(cpuFile, false);
            this.peak = new Held(peakFile, true);
        }

        /** CPU time of the container's whole cgroup tree; empty when unknown. */
        public synchronized Optional<Long> cpuNanos() {
            return cpu.read().flatMap(text -> unified ? usageNanos(text) : number(text));
        }

        /** Peak memory since the kernel started or the last reset; empty when unknown. */
        public synchronized Optional<Long> peakMemory() {
            return peak.read().flatMap(Cgroups::number);
        }

        /** v1 resets the peak by writing 0; v2 by writing anything, on Linux 6.12 and later. Best effort. */
        public synchronized void resetPeak() {
            peak.write(unified ? "reset" : "0"); // not resettable here: the peak counts from the kernel's start
        }

        /** After {@link #close}: the kernel is gone, and so are these files. */
        public synchronized boolean closed() {
            return closed;
        }

        @Override
        public synchronized void close() {
            closed = true;
            cpu.drop();
            peak.drop();
        }

        /** v2's cpu.stat: the usage_usec line, in nanoseconds. */
        private static Optional<Long> usageNanos(String stat) {
            for (String line : stat.split("\n")) {
                if (line.startsWith("usage_usec ")) {
                    return number(line.substring(11)).map(micros -> micros * 1000);
                }
            }
            return Optional.empty();
        }

        /** One counter file, opened at its first use (read-write if it may be reset) and then kept. */
        private final class Held {
            private final Path file;
            private final boolean resettable;
            private FileChannel channel;
            private boolean writable;
            private boolean missing;

            Held(Path file, boolean resettable) {
                this.file = file;
                this.resettable = resettable;
            }

            /** The file's content, generated afresh; empty when unknown. A failed read reopens once. */
            Optional<String> read() {
                for (int attempt = 0; attempt < 2; attempt++) {
                    if (!open()) {
                        return Optional.empty();
                    }
                    try {
                        buffer.clear();
                        while (buffer.hasRemaining() && channel.read(buffer, buffer.position()) > 0) {
                            // a number, or a few lines of cpu.stat: one read
                        }
                        return Optional.of(new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII));
                    } catch (IOException e) {
                        drop();
                    }
                }
                return Optional.empty();
            }

            /**
             * Writes text at offset 0; a failed write reopens once. A file that refuses a write as
             * soon as it is opened is not writable here and is kept open for reading only.
             */
            void write(String text) {
                for (int attempt = 0; attempt < 2; attempt++) {
                    boolean fresh = channel == null;
                    if (!open() || !writable) {
                        return;
                    }
                    try {
                        channel.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)), 0);
                        return;
                    } catch (IOException e) {
                        drop();
                        if (fresh) {
                            channel = open(file, false);
                            missing = channel == null;
                            return; // writable stays false: not tried at every execution
                        }
                    }
                }
            }

            void drop() {
                if (channel != null) {
                    try {
                        channel.close();
                    } catch (IOException e) {
                        // nothing was written through it that could be lost
                    }
                }
                channel = null;
                writable = false;
            }

            private boolean open() {
                if (channel == null && !closed && !missing) {
                    channel = resettable ? open(file, true) : null;
                    writable = channel != null;
                    if (channel == null) {
                        channel = open(file, false);
                    }
                    missing = channel == null;
                }
                return channel != null;
            }

            private static FileChannel open(Path file, boolean write) {
                try {
                    return write
                            ? FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)
                            : FileChannel.open(file, StandardOpenOption.READ);
                } catch (IOException | UnsupportedOperationException e) {
                    return null;
                }
            }
        }
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
            return number(new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** A cgroup file's one number; empty for "max" (no limit) and for anything that is not a number. */
    static Optional<Long> number(String text) {
        String value = text.strip();
        try {
            return value.equals("max") ? Optional.empty() : Optional.of(Long.parseLong(value));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
