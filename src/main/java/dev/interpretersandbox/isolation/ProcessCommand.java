package dev.interpretersandbox.isolation;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;

/**
 * A command in process mode: a child process with the kernel's limits and user (prlimit, setpriv),
 * its own session, and the kernel's cgroup. It waits on its stdin until the service has moved it
 * into the cgroup, then changes to its working directory as the sandbox user (so a link planted
 * there is followed with the sandbox user's rights only) and runs bash.
 */
final class ProcessCommand extends ChildCommand {

    private static final Duration SIGNAL_DEADLINE = Duration.ofSeconds(5);
    /**
     * $0 is the command, $1 the directory, then NAME=value pairs: none is ever parsed by this
     * shell. The client's variables are set by env(1) only here, after setpriv: the root-run
     * prlimit and setpriv before it never see them (LC_ALL and the like would make them load
     * files of the sandbox's choosing).
     */
    static final String WRAPPER =
            "read -r _ || exit 125; cd -- \"$1\" || exit 126; shift; exec env -- \"$@\" /bin/bash -l -c \"$0\"";

    ProcessCommand(Process process) {
        super(process);
    }

    /** Lets the command go once it is in its cgroup: it reads one line, then stdin is closed. */
    void release() throws IOException {
        try (OutputStream in = process.getOutputStream()) {
            in.write('\n');
        }
    }

    @Override
    public long pid() {
        return process.pid();
    }

    @Override
    public boolean signal(String name) {
        // Only while the leader runs: kill(1) runs as root here, and once the leader is gone its
        // number could name someone else's group. (Its cgroup is killed with the kernel.)
        if (!process.isAlive()) {
            return false;
        }
        // setsid made it a session and process group leader: kill(1) with -pid reaches the group.
        return CommandRunner.run(List.of("kill", "-s", name, "--", "-" + process.pid()), SIGNAL_DEADLINE)
                .ok();
    }
}
