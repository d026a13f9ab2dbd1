package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.interpretersandbox.kernel.CommandSpec;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.jboss.logging.Logger;

/**
 * A command in a running gVisor container: {@code runsc exec} with the kernel's own process
 * description (user, rlimits, no capabilities, no new privileges) but for its arguments, cwd and
 * environment. runsc makes the process a session and process group leader, and bash without job
 * control keeps what it starts in that group, so a signal sent to the group from inside reaches a
 * pipeline or a script's children too, as Ctrl-C in a terminal would. What outlives the group is
 * reaped by the container's init, the kernel's tini.
 */
final class RunscCommand extends ChildCommand {

    private static final Logger LOG = Logger.getLogger(RunscCommand.class);
    private static final Duration PID_WAIT = Duration.ofSeconds(10);

    private final String containerId;
    private final RunscClient runsc;
    private final long pid;

    private RunscCommand(String containerId, RunscClient runsc, Process process, long pid) {
        super(process);
        this.containerId = containerId;
        this.runsc = runsc;
        this.pid = pid;
    }

    static RunscCommand start(
            String containerId, RunscClient runsc, ObjectMapper mapper, Path bundle, CommandSpec command)
            throws IOException {
        JsonNode config = mapper.readTree(bundle.resolve("config.json").toFile());
        ObjectNode process = ((ObjectNode) config.get("process")).deepCopy();
        process.putArray("args").add("/bin/bash").add("-l").add("-c").add(command.shellCommand());
        Map<String, String> env = new LinkedHashMap<>();
        process.path("env").forEach(entry -> {
            String pair = entry.asText();
            int eq = pair.indexOf('=');
            if (eq > 0) {
                env.put(pair.substring(0, eq), pair.substring(eq + 1));
            }
        });
        env.putAll(command.env());
        env.put("PWD", command.directory()); // bash keeps a link's name (/home/user) when PWD says so
        ArrayNode envs = process.putArray("env");
        env.forEach((name, value) -> envs.add(name + "=" + value));
        process.put(
                "cwd",
                "/mnt/data"
                        + (command.workspacePath().isEmpty() ? "" : "/" + String.join("/", command.workspacePath())));
        String name = "exec-" + UUID.randomUUID();
        Path file = bundle.resolve(name + ".json");
        Path pidFile = bundle.resolve(name + ".pid");
        Files.write(file, mapper.writeValueAsBytes(process));
        Process started;
        try {
            started = new ProcessBuilder(runsc.execCommand(containerId, file, pidFile))
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
        } catch (IOException e) {
            Files.deleteIfExists(file);
            throw e;
        }
        started.onExit().thenRun(() -> {
            try {
                Files.deleteIfExists(file);
                Files.deleteIfExists(pidFile);
            } catch (IOException e) {
                // the bundle goes with the kernel
            }
        });
        long pid = awaitPid(pidFile, started);
        return new RunscCommand(containerId, runsc, started, pid);
    }

    /** runsc writes the pid once the process runs; -1 when it ended (or failed) before that. */
    private static long awaitPid(Path pidFile, Process started) throws IOException {
        long deadline = System.nanoTime() + PID_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(pidFile)) {
                String text = Files.readString(pidFile).strip();
                if (!text.isEmpty()) {
                    return Long.parseLong(text);
                }
            }
            if (!started.isAlive()) {
                return -1;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                started.destroyForcibly();
                throw new IOException("interrupted while the command started");
            }
        }
        started.destroyForcibly();
        throw new IOException("runsc exec did not start the command within " + PID_WAIT.toSeconds() + " s");
    }

    @Override
    public long pid() {
        return pid;
    }

    @Override
    public boolean signal(String name) {
        if (pid <= 0) {
            return false; // it never started
        }
        // Not only while it runs: what it left in its process group is signalled too.
        try {
            // kill(1) with -pid from inside, as the sandbox user: the whole group, SIGKILL included.
            runsc.execShell(
                    containerId, "kill -s " + name + " -- -" + pid + " 2>/dev/null || kill -s " + name + " " + pid);
            return true;
        } catch (RuntimeException e) {
            LOG.debugf("signal %s to command %d in %s: %s", name, pid, containerId, e.getMessage());
            return process.isAlive();
        }
    }
}
