package dev.interpretersandbox.kernel;

import java.util.List;
import java.util.Map;

/**
 * A shell command to run next to a kernel, in its isolation, as the sandbox user.
 *
 * @param shellCommand what {@code /bin/bash -l -c} runs
 * @param workspacePath the working directory below the workspace ({@code ""} for the workspace
 *     itself), already checked; each backend maps it to where the workspace is for its processes
 * @param env variables set on top of the kernel's own environment
 * @param root where the command sees the workspace under runsc: {@code /mnt/data}, or E2B's
 *     {@code /home/user} (a link to it in the sandbox's root filesystem)
 */
public record CommandSpec(String shellCommand, List<String> workspacePath, Map<String, String> env, String root) {

    public static final String WORKSPACE = "/mnt/data";

    public CommandSpec {
        workspacePath = List.copyOf(workspacePath);
        env = Map.copyOf(env);
    }

    public CommandSpec(String shellCommand, List<String> workspacePath, Map<String, String> env) {
        this(shellCommand, workspacePath, env, WORKSPACE);
    }

    /** The working directory under runsc. */
    public String directory() {
        return root + (workspacePath.isEmpty() ? "" : "/" + String.join("/", workspacePath));
    }
}
