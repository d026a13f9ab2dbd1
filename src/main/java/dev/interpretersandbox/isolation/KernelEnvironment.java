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
