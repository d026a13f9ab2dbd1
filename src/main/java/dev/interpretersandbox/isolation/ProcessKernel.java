package dev.interpretersandbox.isolation;

import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.KernelChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One kernel as a plain child process (process mode): the driver leads its own session, so
 * SIGINT reaches it and its subprocesses as a group, like tini -g does under runsc. Teardown kills
 * the group, every process left in its cgroup (that catches ones that left the group), and
 * removes the cgroup and its scratch directory.
 */
final class ProcessKernel extends ChildKernel {

    private final Path scratch;

    ProcessKernel(
            String containerId,
            Process process,
            KernelChannel channel,
            Cgroups cgroups,
            Path log,
            Path scratch,
            long memoryLimit) {
        super(containerId, process, channel, cgroups, log, memoryLimit);
        this.scratch = scratch;
    }

    @Override
    public void interrupt() {
        // The driver's pid is its process group id (setsid); kill(1) signals the whole group.
        CommandRunner.run(List.of("kill", "-s", "INT", "--", "-" + process.pid()), Duration.ofSeconds(5))
                .orThrow();
    }

    @Override
    void teardown(List<String> errors) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        for (long pid : cgroups.processes(containerId)) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        reap(errors);
        for (int attempt = 0; attempt < 20 && !cgroups.processes(containerId).isEmpty(); attempt++) {
            try {
                Thread.sleep(50); // killed processes leave the cgroup once the kernel has reaped them
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        cgroups.remove(containerId);
        Trees.delete(scratch);
        try {
            Files.deleteIfExists(log);
        } catch (java.io.IOException e) {
            errors.add("log: " + e.getMessage());
        }
    }
}
