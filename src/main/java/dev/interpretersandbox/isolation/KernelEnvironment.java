package dev.interpretersandbox.isolation;

import dev.interpretersandbox.config.SandboxConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/** The kernel's environment, the same in both isolation modes but for where home and scratch are. */
final class KernelEnvironment {

    private KernelEnvironment() {}

    /** Longest line taken from the driver: the biggest display allowed, JSON-escaped, with room to spare. */
    static int maxLine(SandboxConfig config) {
        long displays = config.output().maxDisplayBytes().asLongValue();
        return (int) Math.min(Integer.MAX_VALUE - 64, 2 * displays + (1 << 20));
    }

    /** Variables for a kernel whose workspace is home and whose private scratch space is scratch. */
    static Map<String, String> variables(double cpus, String home, String scratch) {
        int threads = Math.max(1, (int) Math.ceil(cpus));
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        env.put("HOME", home);
        env.put("USER", "sandbox");
        env.put("LANG", "C.UTF-8");
        env.put("PYTHONDONTWRITEBYTECODE", "1");
        // glibc gives freed memory back to the system as soon as 128 KiB sit free at the top of
        // the heap, and serves blocks from 128 KiB up with fresh mmaps. Inside gVisor (ptrace) the
        // first touch of every page is a trap into the sentry, so a cell that allocates and frees
        // buffers (a plot's canvas, numpy temporaries) paid the faults again on every call: 100
        // allocations of 1 MiB took 134 ms in the sandbox against 67 ms on the host. Keeping up to
        // 128 MiB of freed heap for reuse makes it 12 ms; blocks of 64 MiB and more still get their
        // own mapping, so one big array is still returned when it is freed.
        env.put("MALLOC_MMAP_THRESHOLD_", Integer.toString(64 << 20));
        env.put("MALLOC_TRIM_THRESHOLD_", Integer.toString(128 << 20));
        // One malloc arena: glibc reserves 64 MiB of address space for each thread's own arena,
        // and RLIMIT_AS counts reservations. Eight threads that had malloc'd took a 1 GiB sandbox
        // from 134 to 678 MiB of its 870 MiB address space, and a 128 MiB sandbox whose output
        // thread got an arena early in its start failed to import IPython (MemoryError).
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
