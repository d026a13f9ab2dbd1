package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.kernel.KernelStartException;
import dev.interpretersandbox.log.LogSafe;
import java.nio.file.Path;
import java.time.Instant;
import org.jboss.logging.Logger;

/**
 * A sandbox's pause to disk and its way back: the kernel is checkpointed to an image (variables,
 * imports and open files kept; its container, cgroup and memory released) and restored into a new
 * container on the next call. The image lives in the sandbox's own directory.
 *
 * <p>Thread-safety: called by its sandbox only while the sandbox runs a job (one at a time), and
 * read under the sandbox's lock.
 */
final class Hibernation {

    private static final Logger LOG = Logger.getLogger(Hibernation.class);

    private final String sandboxId;
    private final Path location;
    private volatile Path image;
    private volatile Instant pausedAt;

    Hibernation(String sandboxId, Path location) {
        this.sandboxId = sandboxId;
        this.location = location;
    }

    boolean paused() {
        return image != null;
    }

    Instant pausedAt() {
        return pausedAt;
    }

    /**
     * An image found at startup (a sandbox brought back from its record): pausedAt is when the
     * reaper paused it, or null when it was saved at a shutdown.
     */
    void adopt(Instant pausedAt) {
        this.image = location;
        this.pausedAt = pausedAt;
    }

    /** A saved image whose sandbox became idle for good: it counts as paused from then on. */
    void idleSince(Instant at) {
        pausedAt = at;
    }

    /**
     * Checkpoints the kernel (which ends); false, with the kernel still running, when it cannot.
     * now is when the reaper paused it, or null when it is saved at a shutdown (its idle clock
     * keeps running).
     */
    boolean pause(KernelHandle kernel, Instant now) {
        if (!kernel.checkpoint(location)) {
            return false;
        }
        image = location;
        pausedAt = now;
        return true;
    }

    /**
     * The restored kernel, or null when the restore failed; why is then in {@link #lastFailure}.
     * The image is used up either way.
     */
    KernelHandle resume(KernelLauncher launcher, Path workspace, KernelLimits limits) {
        Path restoring = image;
        image = null;
        pausedAt = null;
        try {
            return launcher.restore(sandboxId, workspace, limits, restoring);
        } catch (KernelStartException e) {
            lastFailure = e.getMessage();
            LOG.warnf(
                    "sandbox %s could not be restored, starting a fresh kernel: %s",
                    sandboxId, LogSafe.quote(e.getMessage()));
            return null;
        } finally {
            Trees.delete(restoring);
        }
    }

    private volatile String lastFailure;

    String lastFailure() {
        return lastFailure;
    }

    /** Forgets the image (stop, restart, delete): the next call starts a fresh kernel. */
    void discard() {
        Path current = image;
        image = null;
        pausedAt = null;
        if (current != null) {
            Trees.delete(current);
        }
    }
}
