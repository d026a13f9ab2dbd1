package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.CommandRunner;
import dev.interpretersandbox.isolation.OciSpec;
import dev.interpretersandbox.isolation.RunscClient;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Whether the host can run sandboxes: runsc runs, and the Python the sandbox uses (the host's
 * /usr is the sandbox's /usr) imports IPython. Checked at startup and re-checked on demand.
 */
@ApplicationScoped
public class RuntimeCheck {

    private final SandboxConfig config;
    private final RunscClient runsc;
    private volatile String runscVersion;
    private volatile String problem = "not checked yet";

    RuntimeCheck(SandboxConfig config, RunscClient runsc) {
        this.config = config;
        this.runsc = runsc;
    }

    /** Runs the checks; returns the problem, empty when the runtime is usable. */
    public Optional<String> check() {
        try {
            runscVersion = runsc.version();
        } catch (RuntimeException e) {
            problem = "runsc is not usable: " + e.getMessage();
            return Optional.of(problem);
        }
        if (!java.nio.file.Files.isExecutable(java.nio.file.Path.of(OciSpec.INIT))) {
            problem = OciSpec.INIT + " is missing (Debian package tini, see deploy/install-runtime.sh)";
            return Optional.of(problem);
        }
        try {
            CommandRunner.run(
                            List.of(config.python(), "-c", "import IPython, matplotlib_inline"), Duration.ofSeconds(30))
                    .orThrow();
        } catch (RuntimeException e) {
            problem = "the kernel runtime is not usable (" + config.python()
                    + " with IPython and matplotlib-inline, see deploy/install-runtime.sh): " + e.getMessage();
            return Optional.of(problem);
        }
        problem = null;
        return Optional.empty();
    }

    /** The last check's problem, or null when it passed. */
    public String problem() {
        return problem;
    }

    public String runscVersion() {
        return runscVersion;
    }
}
