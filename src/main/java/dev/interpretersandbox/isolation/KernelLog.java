package dev.interpretersandbox.isolation;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * The kernel's stderr (runsc's and the driver's diagnostics, and anything user code writes to the
 * driver's copy of it), kept as a ring of its last bytes. A daemon thread drains the pipe, so the
 * kernel never blocks on it, and neither the heap nor the disk grows with what it writes: the
 * service only ever needs the tail, to say why a kernel died.
 *
 * <p>Thread-safety: one reader thread writes; {@link #tail} may be called from any thread.
 */
final class KernelLog {

    private static final Logger LOG = Logger.getLogger(KernelLog.class);
    static final int CAPACITY = 64 * 1024;

    /** Characters of each line a diagnosis quotes (its end, where the reason usually is). */
    static final int LINE_CHARS = 300;

    private final byte[] ring = new byte[CAPACITY];
    private final Thread reader;
    private long written; // total bytes ever written; guarded by this

    KernelLog(InputStream stderr, String name) {
        this.reader = new Thread(() -> drain(stderr), "kernel-log-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** Waits (boundedly) until everything the kernel wrote before it ended has been read. */
    void awaitEnd(Duration timeout) {
        try {
            reader.join(timeout.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void drain(InputStream in) {
        byte[] chunk = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(chunk)) > 0) {
                append(chunk, n);
            }
        } catch (IOException e) {
            LOG.debugf("kernel log closed: %s", e.getMessage());
        }
    }

    synchronized void append(byte[] chunk, int n) {
        int from = Math.max(0, n - CAPACITY); // only the last CAPACITY bytes of a chunk can survive
        int position = (int) ((written + from) % CAPACITY);
        int first = Math.min(n - from, CAPACITY - position);
        System.arraycopy(chunk, from, ring, position, first);
        System.arraycopy(chunk, from + first, ring, 0, n - from - first);
        written += n;
    }

    /** Bytes the kernel wrote in all. */
    synchronized long written() {
        return written;
    }

    /** The last lines (at most lines of them, from the last {@link #CAPACITY} bytes), joined with " | ". */
    String tail(int lines) {
        byte[] copy;
        synchronized (this) {
            int size = (int) Math.min(written, CAPACITY);
            int start = (int) ((written - size) % CAPACITY);
            copy = new byte[size];
            int first = Math.min(size, CAPACITY - start);
            System.arraycopy(ring, start, copy, 0, first);
            System.arraycopy(ring, 0, copy, first, size - first);
        }
        String[] all = new String(copy, StandardCharsets.UTF_8).split("\n");
        List<String> tail = new ArrayList<>();
        for (int i = all.length - 1; i >= 0 && tail.size() < lines; i--) {
            String line = all[i].strip();
            if (!line.isEmpty()) {
                tail.add(0, line.length() <= LINE_CHARS ? line : "..." + line.substring(line.length() - LINE_CHARS));
            }
        }
        return String.join(" | ", tail);
    }
}
