package dev.interpretersandbox.lifecycle;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.CommandRunner;
import dev.interpretersandbox.isolation.OciSpec;
import dev.interpretersandbox.isolation.RunscClient;
import jakarta.enterprise.context.ApplicationScoped;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Whether the host can run sandboxes in the configured isolation mode: runsc runs (runsc mode) or
 * the util-linux tools that apply the limits exist (process mode), and the Python the kernel uses
 * imports IPython. Checked at startup and re-checked on demand.
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

    /** Runs the checks of the configured isolation mode; returns the problem, empty when usable. */
    public Optional<String> check() {
        problem = config.isolation() == SandboxConfig.Isolation.PROCESS ? checkProcessMode() : checkRunscMode();
        return Optional.ofNullable(problem);
    }

    private String checkRunscMode() {
        try {
            runscVersion = runsc.version();
        } catch (RuntimeException e) {
            return "runsc is not usable: " + e.getMessage();
        }
        if (config.rootfs().isPresent()) {
            Path rootfs = config.rootfs().get();
            for (String needed : List.of(OciSpec.INIT, config.python())) {
                if (!Files.isExecutable(rootfs.resolve(needed.substring(1)))) {
                    return "the dedicated root filesystem " + rootfs + " has no " + needed
                            + " (build it with deploy/build-rootfs.sh)";
                }
            }
            return null; // its Python cannot be run from here; the first kernel start tells
        }
        if (!Files.isExecutable(Path.of(OciSpec.INIT))) {
            return OciSpec.INIT + " is missing (Debian package tini, see deploy/install-runtime.sh)";
        }
        return checkPython();
    }

    private String checkProcessMode() {
        // util-linux tools that put the limits and the user in place before Python starts.
        for (List<String> tool : List.of(
                List.of("prlimit", "--version"), List.of("setpriv", "--version"), List.of("setsid", "--version"))) {
            try {
                CommandRunner.run(tool, Duration.ofSeconds(10)).orThrow();
            } catch (RuntimeException e) {
                return tool.get(0) + " (util-linux) is not usable, and process mode needs it: " + e.getMessage();
            }
        }
        return checkPython();
    }

    private String checkPython() {
        try {
            CommandRunner.run(
                            List.of(config.python(), "-c", "import IPython, matplotlib_inline"), Duration.ofSeconds(30))
                    .orThrow();
            return null;
        } catch (RuntimeException e) {
            return "the kernel runtime is not usable (" + config.python()
                    + " with IPython and matplotlib-inline, see deploy/install-runtime.sh): " + e.getMessage();
        }
    }

    /** The last check's problem, or null when it passed. */
    public String problem() {
        return problem;
    }

    public String runscVersion() {
        return runscVersion;
    }
}
