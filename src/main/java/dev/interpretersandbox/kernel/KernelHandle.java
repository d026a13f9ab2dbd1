package dev.interpretersandbox.kernel;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A running kernel in its isolation, whatever the backend: launch gives one, then execute through
 * its driver, signal, measure and destroy. Implementations are safe to destroy twice and from any
 * thread.
 */
public interface KernelHandle {

    /** The protocol client of this kernel's driver. */
    DriverClient driver();

    /** Name of this kernel instance (the container id), for logs. */
    String name();

    /** Interrupts the running cell (SIGINT to the driver); state survives. Blocks briefly. */
    void interrupt();

    /** Whether the kernel still runs and keeps to the protocol. */
    boolean alive();

    /** Why the kernel ended, once it has: exit status, out of memory, or a broken protocol. */
    String deathCause();

    /** Peak memory use of the whole sandbox since start or the last {@link #resetPeakMemory}, when known. */
    Optional<Long> peakMemory();

    /** Starts a new peak-memory measurement (one per execution), where the cgroup allows it. */
    default void resetPeakMemory() {}

    /** Memory the whole sandbox uses now, when known. */
    default Optional<Long> memoryBytes() {
        return Optional.empty();
    }

    /** CPU time the whole sandbox used so far, when known. */
    default Optional<Long> cpuNanos() {
        return Optional.empty();
    }

    /**
     * Saves the whole kernel (memory, processes, open files) to image and stops it, removing
     * what it left on the host but the image. Returns false, with the kernel still running, when
     * this backend or this kernel cannot be checkpointed.
     */
    default boolean checkpoint(Path image) {
        return false;
    }

    /**
     * Starts a shell command next to the kernel: in the same isolation and limits, as the sandbox
     * user, without stdin. Its output is the returned handle's; it ends with the kernel at the latest.
     */
    default RunningCommand command(CommandSpec command) throws IOException {
        throw new IOException("this kernel cannot run commands");
    }

    /** Stops the kernel and removes everything it left on the host; errors are logged, not thrown. */
    void destroy();
}
