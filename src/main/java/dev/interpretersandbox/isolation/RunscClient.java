package dev.interpretersandbox.isolation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.microprofile.faulttolerance.Retry;

/**
 * Typed client of the runsc CLI. Global flags are built in one place; every call has a deadline
 * and carries runsc's stderr into its exception. Thread-safe (stateless).
 */
@ApplicationScoped
public class RunscClient {

    private final SandboxConfig config;
    private final ObjectMapper mapper;
    private final Path root;

    public RunscClient(SandboxConfig config, ObjectMapper mapper) {
        this.config = config;
        this.mapper = mapper;
        this.root = StateLayout.of(config).runscRoot();
    }

    /** Global flags: our own state root, no network at all, the configured platform. */
    List<String> base() {
        List<String> args = new ArrayList<>();
        args.add(config.runsc().path());
        args.add("--root=" + root);
        args.add("--platform=" + config.runsc().platform());
        args.add("--network=none");
        return args;
    }

    /** Arguments of {@code runsc run} for a foreground container on the given bundle. */
    public List<String> runCommand(Path bundle, String containerId) {
        List<String> args = base();
        args.addAll(List.of("run", "--bundle=" + bundle, containerId));
        return args;
    }

    /** Arguments of {@code runsc restore}: like run, in the foreground, from a checkpoint image. */
    public List<String> restoreCommand(Path bundle, Path image, String containerId) {
        List<String> args = base();
        args.addAll(List.of("restore", "--image-path=" + image, "--bundle=" + bundle, containerId));
        return args;
    }

    /**
     * Arguments of {@code runsc exec}: a second process in a running container, described by a
     * process.json (user, rlimits, capabilities as the kernel's), in the foreground; its pid in
     * the container goes to pidFile.
     */
    public List<String> execCommand(String containerId, Path process, Path pidFile) {
        List<String> args = base();
        args.addAll(List.of("exec", "--process=" + process, "--internal-pid-file=" + pidFile, containerId));
        return args;
    }

    /** Runs a short /bin/sh script in the container as the sandbox user, within the command deadline. */
    public void execShell(String containerId, String script) {
        List<String> args = base();
        args.addAll(List.of(
                "exec",
                "--user=" + config.userId() + ":" + config.userId(),
                "--cwd=/",
                containerId,
                "/bin/sh",
                "-c",
                script));
        CommandRunner.run(args, deadline()).orThrow();
    }

    /** Saves the container to image and stops it; the deadline grows with the memory to write. */
    public void checkpoint(String containerId, Path image, Duration deadline) {
        List<String> args = base();
        args.addAll(List.of("checkpoint", "--image-path=" + image, containerId));
        CommandRunner.run(args, deadline).orThrow();
    }

    /** Sends a signal to the container's init process (the kernel driver). */
    @Retry(maxRetries = 1, delay = 100, delayUnit = ChronoUnit.MILLIS, retryOn = CommandRunner.CommandException.class)
    public void kill(String containerId, String signal) {
        List<String> args = base();
        args.addAll(List.of("kill", containerId, signal));
        CommandRunner.run(args, deadline()).orThrow();
    }

    /** Removes the container and its state; a container that does not exist counts as removed. */
    @Retry(maxRetries = 2, delay = 200, delayUnit = ChronoUnit.MILLIS, retryOn = CommandRunner.CommandException.class)
    public void deleteForce(String containerId) {
        List<String> args = base();
        args.addAll(List.of("delete", "-force", containerId));
        CommandRunner.Result result = CommandRunner.run(args, deadline());
        if (!result.ok() && !notFound(result)) {
            result.orThrow();
        }
    }

    /** Ids of every container under our runsc root. */
    @Retry(maxRetries = 1, delay = 200, delayUnit = ChronoUnit.MILLIS, retryOn = CommandRunner.CommandException.class)
    public List<String> list() {
        List<String> args = base();
        args.addAll(List.of("list", "-format=json"));
        CommandRunner.Result result = CommandRunner.run(args, deadline()).orThrow();
        List<String> ids = new ArrayList<>();
        try {
            JsonNode node = mapper.readTree(result.stdout().isBlank() ? "[]" : result.stdout());
            if (node.isArray()) {
                node.forEach(entry -> ids.add(entry.path("id").asText()));
            }
        } catch (IOException e) {
            throw new CommandRunner.CommandException(
                    "runsc list printed no JSON: " + CommandRunner.tail(result.stdout()), e);
        }
        return ids;
    }

    /** The runsc version line; throws when runsc cannot run at all. */
    public String version() {
        List<String> args = List.of(config.runsc().path(), "--version");
        return CommandRunner.run(args, deadline())
                .orThrow()
                .stdout()
                .lines()
                .findFirst()
                .orElse("runsc");
    }

    private Duration deadline() {
        return config.runsc().commandTimeout();
    }

    private static boolean notFound(CommandRunner.Result result) {
        String err = result.stderr().toLowerCase();
        return err.contains("does not exist") || err.contains("not found") || err.contains("no such");
    }
}
