package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.RunningCommand;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Clock;

/**
 * Makes a {@link CommandRun} with the service's settings (the stream cap, the interrupt grace)
 * and threads, so the three front doors that run commands (the API, MCP, E2B) cannot drift apart.
 */
@ApplicationScoped
public class CommandRuns {

    private final SandboxConfig config;
    private final Workers workers;

    CommandRuns(SandboxConfig config, Workers workers) {
        this.config = config;
        this.workers = workers;
    }

    /** A run of command whose output goes to sink; coalesce for an answer given whole (plain JSON). */
    public CommandRun of(RunningCommand command, EventSink sink, boolean coalesce) {
        return new CommandRun(
                command,
                sink,
                Clock.systemUTC(),
                config.output().maxStreamBytes().asLongValue(),
                config.execute().interruptGrace(),
                workers.timers(),
                workers.lifecycle(),
                coalesce);
    }
}
