package dev.interpretersandbox.isolation;

import dev.interpretersandbox.kernel.KernelLauncher;
import java.util.Optional;
import java.util.Set;

/**
 * One isolation mode: how kernels are checked for, prepared, launched, restored and swept. The
 * rest of the service holds this interface (or its {@link KernelLauncher} part) and never asks
 * which mode runs. Implementations: {@link RunscBackend} and {@link ProcessBackend}.
 */
public interface IsolationBackend extends KernelLauncher {

    /** The mode as GET / reports it, e.g. {@code runsc/ptrace} or {@code process}. */
    String describe();

    /** What kernels run as and how they are confined, for the startup log. */
    String summary();

    /** Whether kernels can run on this host in this mode; the problem, or empty when they can. */
    Optional<String> check();

    /** The runtime's version (e.g. runsc's), once {@link #check} ran; for readiness data. */
    String runtimeVersion();

    /** Lays out what every kernel needs (root filesystem, the driver). Idempotent. */
    void prepare();

    /** The uid kernel processes run as, and so the owner of workspace files. */
    int kernelUid();

    /** Every container (kernel instance) of this service instance that exists on the host now. */
    Set<String> containers();

    /** Removes a container this service no longer knows, with its processes, cgroup and bundle. */
    void remove(String containerId);

    /**
     * Removes the cgroup directories this service instance left behind: at start, once the
     * containers of a previous run are removed, and at stop, once every kernel is gone.
     */
    void sweep();

    /**
     * The memory the service's own cgroup allows (a pod's or a unit's limit), when it has one: the
     * sandboxes' default memory budget is a share of it rather than of the host's memory.
     */
    Optional<Long> memoryLimit();
}
