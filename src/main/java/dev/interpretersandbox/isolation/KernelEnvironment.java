package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.OutputBudget;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The kernel's environment, the same in both isolation modes but for where home and scratch are. */
final class KernelEnvironment {

    private KernelEnvironment() {}

    private static final Duration PYTHON_CHECK_DEADLINE = Duration.ofSeconds(30);

    /** The protocol channel's bounds, from the output caps. */
    static KernelChannel.Limits channelLimits(SandboxConfig config) {
        return OutputBudget.of(config.output()).channelLimits();
    }

    /** Whether the configured Python has what the driver needs: the problem, or empty. */
    static Optional<String> checkPython(SandboxConfig config) {
        try {
            CommandRunner.run(
                            List.of(config.python(), "-c", "import IPython, matplotlib_inline"), PYTHON_CHECK_DEADLINE)
                    .orThrow();
            return Optional.empty();
        } catch (RuntimeException e) {
            return Optional.of("the kernel runtime is not usable (" + config.python()
                    + " with IPython and matplotlib-inline, see deploy/install-runtime.sh): " + e.getMessage());
        }
    }

    /** Variables for a kernel whose workspace is home and whose private scratch space is scratch. */
    static Map<String, String> variables(double cpus, String home, String scratch) {
        int threads = Math.max(1, (int) Math.ceil(cpus));
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin"); // /usr/local is masked empty under runsc
        env.put("HOME", home);
        env.put("USER", "sandbox");
        env.put("LANG", "C.UTF-8");
        env.put("PYTHONDONTWRITEBYTECODE", "1");
        // glibc gives freed memory back to the system as soon as 128 KiB sit free at the top of
        // the heap, and serves blocks from 128 KiB up with fresh mmaps. Inside gVisor (ptrace) the
        // first touch of every page is a trap into the sentry, so a cell that allocates and frees
        // buffers (a plot's canvas, numpy temporaries) paid the faults again on every call. Keeping
        // up to 128 MiB of freed heap for reuse avoids that (docs/benchmarks.md has the figures);
        // blocks of 64 MiB and more still get their own mapping, so one big array is still
        // returned when it is freed.
        env.put("MALLOC_MMAP_THRESHOLD_", Integer.toString(64 << 20));
        env.put("MALLOC_TRIM_THRESHOLD_", Integer.toString(128 << 20));
        // One malloc arena: glibc reserves 64 MiB of address space for each thread's own arena,
        // and RLIMIT_AS counts reservations: a few threads that had malloc'd used up most of a
        // sandbox's address space, and a 128 MiB sandbox whose output thread got an arena early
        // in its start failed to import IPython (MemoryError).
        env.put("MALLOC_ARENA_MAX", "1");
        // Inline plots by default; caches and IPython's profile go to scratch, not the workspace.
        env.put("MPLBACKEND", "module://matplotlib_inline.backend_inline");
        env.put("TMPDIR", scratch);
        env.put("MPLCONFIGDIR", scratch + "/.config/matplotlib");
        env.put("XDG_CACHE_HOME", scratch + "/.cache");
        env.put("XDG_CONFIG_HOME", scratch + "/.config");
        env.put("IPYTHONDIR", scratch + "/.ipython");
        // BLAS/OpenMP thread pools sized to the CPU quota, not the host (threads count against NPROC).
        env.put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        env.put("OMP_NUM_THREADS", Integer.toString(threads));
        env.put("MKL_NUM_THREADS", Integer.toString(threads));
        return env;
    }
}
