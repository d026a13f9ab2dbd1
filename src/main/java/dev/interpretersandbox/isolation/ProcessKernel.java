package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.CommandSpec;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.RunningCommand;
import java.io.IOException;
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

    private static final Duration SIGNAL_DEADLINE = Duration.ofSeconds(5);
    private static final int EXIT_POLLS = 20;
    private static final long EXIT_POLL_MILLIS = 50;

    private final Path scratch;
    private final CommandStarter commands;

    /** How this kernel's commands start (the backend knows the command line). */
    interface CommandStarter {
        RunningCommand start(CommandSpec spec) throws IOException;
    }

    ProcessKernel(
            String containerId,
            Process process,
            ObjectMapper mapper,
            KernelChannel.Limits limits,
            KernelChannel.DropCounter drops,
            Cgroups cgroups,
            Path scratch,
            long memoryLimit,
            CommandStarter commands) {
        super(containerId, process, mapper, limits, drops, cgroups, memoryLimit);
        this.scratch = scratch;
        this.commands = commands;
    }

    @Override
    public RunningCommand command(CommandSpec spec) throws IOException {
        return commands.start(spec);
    }

    @Override
    public void interrupt() {
        // The driver's pid is its process group id (setsid); kill(1) signals the whole group.
        CommandRunner.run(List.of("kill", "-s", "INT", "--", "-" + process.pid()), SIGNAL_DEADLINE)
                .orThrow();
    }

    @Override
    void teardown(List<String> errors) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        cgroups.killAll(containerId);
        reap(errors);
        for (int attempt = 0;
                attempt < EXIT_POLLS && !cgroups.processes(containerId).isEmpty();
                attempt++) {
            try {
                Thread.sleep(EXIT_POLL_MILLIS); // killed processes leave the cgroup once the kernel has reaped them
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        cgroups.remove(containerId);
        Trees.delete(scratch);
    }
}
