package dev.interpretersandbox.config;

import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Every setting of the service, under the {@code sandbox} prefix (env: {@code SANDBOX_...}). */
@ConfigMapping(prefix = "sandbox")
public interface SandboxConfig {

    /** Root of all per-sandbox state: bundles, runsc root, workspaces, logs. Defaults to /var/lib/interpreter-sandbox. */
    @WithDefault("/var/lib/interpreter-sandbox")
    Path stateDir();

    /** A sandbox idle for longer than this is torn down by the reaper. Defaults to 15m. */
    @WithDefault("15m")
    Duration idleTimeout();

    /** How often the reaper looks for idle sandboxes (1s at least). Defaults to 30s. */
    @WithDefault("30s")
    Duration reaperInterval();

    /**
     * How often containers and cgroups that belong to no sandbox of this service are looked for
     * and removed (one must be seen twice in a row). Defaults to 60s.
     */
    @WithDefault("60s")
    Duration orphanSweepInterval();

    /** How kernels are isolated. Defaults to runsc. */
    @WithDefault("runsc")
    Isolation isolation();

    /**
     * Where the default sandbox's workspace lives instead of under the state directory, e.g.
     * /mnt/data in process mode so code sees the same absolute paths as under runsc. Must be on
     * the same filesystem as the state directory. Defaults to unset.
     */
    Optional<Path> defaultWorkspace();

    /**
     * A dedicated root filesystem for the kernel (see deploy/build-rootfs.sh) instead of the
     * allow-list of the host's /usr and /etc (runsc mode). Defaults to unset.
     */
    Optional<Path> rootfs();

    /** Python inside the sandbox (the host's /usr is the sandbox's /usr); needs IPython. Defaults to /usr/bin/python3. */
    @WithDefault("/usr/bin/python3")
    String python();

    /** Numeric uid and gid that sandbox code runs as and that owns workspace files. Defaults to 10001. */
    @WithDefault("10001")
    int userId();

    Runsc runsc();

    enum Isolation {
        /** The service runs every kernel in its own gVisor sandbox (needs root). */
        RUNSC,
        /**
         * Kernels are plain child processes with rlimits, their own cgroup when the cgroup tree
         * is writable, and the same workspace rules: for a pod that already runs under a gVisor
         * RuntimeClass, where the pod is the sandbox.
         */
        PROCESS
    }

    Limits limits();

    Execute execute();

    Kernel kernel();

    Output output();

    Sandboxes sandboxes();

    Auth auth();

    Shutdown shutdown();

    Cluster cluster();

    AgentSandbox agentSandbox();

    E2b e2b();

    Mcp mcp();

    /** The MCP server at /mcp (Streamable HTTP): one sandbox per session, tools for Python, files, commands. */
    interface Mcp {
        /** Whether /mcp answers; behind the same bearer token as the rest. Defaults to true. */
        @WithDefault("true")
        boolean enabled();

        /** Characters of text a tool returns at most (it goes into a model's context); more is cut with a note. Defaults to 20000. */
        @WithDefault("20000")
        int maxOutputChars();
    }

    /**
     * E2B's API, so the official E2B SDKs run unchanged: its control plane under {@link #path()},
     * its sandbox plane (Jupyter and envd) under {@code <path>/sandbox}, routed on E2B's headers.
     */
    interface E2b {
        /** Whether the E2B API is served. Defaults to false. */
        @WithDefault("false")
        boolean enabled();

        /** Where it is served: E2B_API_URL is http://host:port plus this. Defaults to /e2b. */
        @WithDefault("/e2b")
        String path();

        /**
         * API keys clients send as X-API-KEY, in E2B's format e2b_ followed by hex digits. None set:
         * the E2B API refuses every control-plane call. Defaults to none.
         */
        Optional<List<String>> apiKeys();

        /** The envd version advertised at create: the SDKs switch features on it. Defaults to 0.5.7. */
        @WithDefault("0.5.7")
        String envdVersion();
    }

    /**
     * Pod-per-sandbox on kubernetes-sigs/agent-sandbox: the pod keeps its SandboxClaim's
     * spec.lifecycle.shutdownTime (or its Sandbox's spec.shutdownTime when no claim owns it) at
     * last activity + idle timeout, so the operator deletes it once it is idle.
     */
    interface AgentSandbox {
        /** Defaults to false. */
        @WithDefault("false")
        boolean enabled();

        /** The Sandbox this pod belongs to. Defaults to the pod's name (agent-sandbox names them alike). */
        Optional<String> name();

        /** The namespace of the Sandbox. Defaults to the pod's own (from its service account). */
        Optional<String> namespace();

        /** At most one update of the shutdown time per this interval (and one more at shutdown). Defaults to 30s. */
        @WithDefault("30s")
        Duration syncInterval();
    }

    /**
     * Fleet mode: several instances (a StatefulSet's pods) serve any sandbox. A sandbox id names
     * the instance that owns it, and an instance forwards a request for another instance's sandbox
     * to it. Off unless peer-url is set.
     */
    interface Cluster {
        /** This instance's name, a DNS label. Defaults to the host name (a pod's name). */
        Optional<String> instance();

        /**
         * How to reach an instance: a URL with {instance} in it, e.g.
         * http://{instance}.interpreter-sandbox-peers:8080. Setting it turns fleet mode on.
         */
        Optional<String> peerUrl();

        /**
         * The instance that owns the default sandbox (the unprefixed API). Defaults to ordinal 0 of
         * this instance's StatefulSet (name-0), or this instance when its name has no ordinal.
         */
        Optional<String> defaultInstance();

        /**
         * Every instance of the fleet, when they are not a StatefulSet's name-0, name-1, ... (for
         * example several services on one host). Defaults to the StatefulSet's ordinals.
         */
        Optional<List<String>> peers();

        /** The most ordinals a StatefulSet fleet is looked at for placement and listing. Defaults to 64. */
        @WithDefault("64")
        int maxInstances();

        /** How long connecting to a peer may take before it counts as unavailable. Defaults to 2s. */
        @WithDefault("2s")
        Duration connectTimeout();
    }

    /**
     * Graceful shutdown (SIGTERM): readiness goes down and new executions get 503; running ones
     * get the grace, then are interrupted; then every sandbox's kernel is checkpointed to disk, so
     * the next start of the service on the same state directory brings them all back.
     */
    interface Shutdown {
        /** How long running executions may go on before they are interrupted. Defaults to 20s. */
        @WithDefault("20s")
        Duration grace();

        /**
         * How long saving every sandbox may take in total, after the grace; sandboxes not saved by
         * then come back with their files but without their variables. Defaults to 60s.
         */
        @WithDefault("60s")
        Duration saveTimeout();

        /** Sandboxes saved at once. Defaults to the number of CPUs. */
        Optional<Integer> saveThreads();
    }

    interface Runsc {
        /** The runsc binary. Defaults to runsc (looked up on PATH). */
        @WithDefault("runsc")
        String path();

        /** gVisor platform: ptrace works everywhere, kvm needs /dev/kvm (and hangs on some hosts). Defaults to ptrace. */
        @WithDefault("ptrace")
        String platform();

        /** Deadline for one runsc command (kill, delete, list, version). Defaults to 20s. */
        @WithDefault("20s")
        Duration commandTimeout();
    }

    interface Limits {
        /** Memory of the whole sandbox (kernel, gVisor sentry and gofer). Defaults to 1G. */
        @WithDefault("1G")
        MemorySize memory();

        /** CPU quota in cores. Defaults to 1. */
        @WithDefault("1")
        double cpus();

        /**
         * Cgroup pids limit, the outer fence behind the per-user process limit. On ptrace every
         * sandboxed process costs several host tasks, and the sentry keeps threads it made for a
         * burst of processes, so this needs room well beyond processes × 7. Defaults to 512.
         */
        @WithDefault("512")
        int pids();

        /**
         * RLIMIT_NPROC inside the sandbox: a fork bomb gets EAGAIN here. On the ptrace platform each
         * sandboxed process costs about 7 host tasks (stub processes, tracer threads), all counted by
         * the pids limit, so this must stay well below pids / 8 or the sentry dies at the pids limit
         * instead. Defaults to 16.
         */
        @WithDefault("16")
        int processes();

        /** Total size of /mnt/data; also the largest single file code may write. Defaults to 1G. */
        @WithDefault("1G")
        MemorySize workspaceSize();

        /** Size of the sandbox's /tmp (memory-backed, counts against the memory limit). Defaults to 256M. */
        @WithDefault("256M")
        MemorySize tmpSize();

        /** RLIMIT_NOFILE inside the sandbox. Defaults to 1024. */
        @WithDefault("1024")
        int openFiles();
    }

    interface Execute {
        /** Timeout of an execution when the request names none. Defaults to 60s. */
        @WithDefault("60s")
        Duration defaultTimeout();

        /** Largest timeout_secs a request may ask for. Defaults to 1h. */
        @WithDefault("1h")
        Duration maxTimeout();

        /** After a timeout's interrupt, how long the kernel gets to become idle before a restart. Defaults to 2s. */
        @WithDefault("2s")
        Duration interruptGrace();

        /** Largest /execute request body; larger gets 413. Defaults to 1M. */
        @WithDefault("1M")
        MemorySize maxRequestSize();

        /** Executions that may wait behind the running one; more get 429. Defaults to 16. */
        @WithDefault("16")
        int queueSize();

        /**
         * Executions that may wait across all sandboxes together; more get 429. Each holds its
         * request body (at most max-request-size) while it waits. Defaults to 256.
         */
        @WithDefault("256")
        int maxWaiting();

        /**
         * Threads that prepare and finish executions (workspace scans, sending the code, usage).
         * Executions wait for their kernel without a thread. Defaults to twice the CPUs, at least 4.
         */
        Optional<Integer> threads();
    }

    interface Kernel {
        /** Deadline for a fresh sandbox's kernel to say it is ready. Defaults to 60s. */
        @WithDefault("60s")
        Duration startTimeout();
    }

    /**
     * Per-execution output caps. Past a cap the output is cut, a stderr note says so, and the
     * kernel keeps running: a runaway print loop costs neither the service's memory nor the client's.
     */
    interface Output {
        /** Text of stdout and stderr together, in UTF-8 bytes. Defaults to 8M. */
        @WithDefault("8M")
        MemorySize maxStreamBytes();

        /** All display_data of one execution together (MIME bundles as sent). Defaults to 32M. */
        @WithDefault("32M")
        MemorySize maxDisplayBytes();

        /** Number of display_data events of one execution. Defaults to 100. */
        @WithDefault("100")
        int maxDisplays();

        /** Text of the error events of one execution (name, value and traceback). Defaults to 1M. */
        @WithDefault("1M")
        MemorySize maxErrorBytes();
    }

    Http http();

    /** Bounds on what one HTTP client can hold. */
    interface Http {
        /**
         * A response that makes no progress this long (the client stopped reading) is closed, and
         * its execution interrupted. Defaults to 30s.
         */
        @WithDefault("30s")
        Duration writeStallTimeout();

        /** An upload whose client sends nothing for this long is aborted. Defaults to 60s. */
        @WithDefault("60s")
        Duration readStallTimeout();

        /** Largest body of the small JSON endpoints (POST /sandboxes and the like). Defaults to 64K. */
        @WithDefault("64K")
        MemorySize maxJsonBody();
    }

    interface Auth {
        /**
         * Bearer token every endpoint but the health checks requires ({@code Authorization: Bearer
         * <token>}). Unset: no authentication. Defaults to unset.
         */
        Optional<String> token();

        /** Whether GET / needs the token too (platform health checks usually cannot send one). Defaults to false. */
        @WithDefault("false")
        boolean protectPing();
    }

    /** Many sandboxes per node: POST /sandboxes, its maxima, and the warm pool. */
    interface Sandboxes {
        /** Sandboxes at once, the default one and warm-pool members included; more get 503. Defaults to 200. */
        @WithDefault("200")
        int maxCount();

        /**
         * Sum of the memory limits of all sandboxes; a sandbox that would exceed it gets 503.
         * Defaults to 80% of the memory the service may use: its own cgroup's limit (a pod's or a unit's), else the host's memory.
         */
        Optional<MemorySize> memoryBudget();

        /**
         * Whether sandboxes survive restarts of the service: kept in a registry under the state
         * directory, saved to disk at shutdown and brought back at startup. false: every start
         * begins empty (for hosts whose disk does not outlive the service anyway). Defaults to true.
         */
        @WithDefault("true")
        boolean durable();

        /** A sandbox is removed this long after it was created, however busy. Defaults to 24h. */
        @WithDefault("24h")
        Duration maxLifetime();

        /** A sandbox is removed once its executions and commands took this long in total, even while in use. Defaults to 4h. */
        @WithDefault("4h")
        Duration maxBusy();

        /** Largest limits POST /sandboxes may ask for; above them 400. */
        MaxLimits maxLimits();

        /**
         * Threads that start, restore, pause and tear down kernels (slow, blocking work). Defaults
         * to twice the CPUs, at least 4.
         */
        Optional<Integer> lifecycleThreads();

        Pool pool();

        Pause pause();
    }

    /**
     * The reaper's first tier for sandboxes created by POST /sandboxes (runsc mode): at its idle
     * timeout a sandbox is checkpointed to disk instead of destroyed; the next call restores it.
     */
    interface Pause {
        /** Defaults to true. */
        @WithDefault("true")
        boolean enabled();

        /** The second tier: a sandbox paused this long is deleted. Defaults to 24h. */
        @WithDefault("24h")
        Duration keep();
    }

    interface MaxLimits {
        /** Defaults to 8G. */
        @WithDefault("8G")
        MemorySize memory();

        /** Defaults to 2. */
        @WithDefault("2")
        double cpus();

        /** Defaults to 1024. */
        @WithDefault("1024")
        int pids();

        /** Defaults to 10G. */
        @WithDefault("10G")
        MemorySize workspaceSize();

        /** Largest idle timeout a sandbox may ask for. Defaults to 24h. */
        @WithDefault("24h")
        Duration idleTimeout();
    }

    interface Pool {
        /** Pre-started sandboxes with the default limits, handed out by POST /sandboxes; 0 turns it off. Defaults to 2. */
        @WithDefault("2")
        int size();

        /** Code each pool member runs before it is handed out. Defaults to importing numpy, pandas and matplotlib. */
        @WithDefault("import numpy, pandas, matplotlib.pyplot")
        String preload();
    }
}
