package dev.interpretersandbox.support;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What hostile code in a workspace does to the file API: FIFOs (whose open for reading waits for
 * a writer) swapped in by rename(2) under names the API is about to open.
 */
public final class Fifos {

    private Fifos() {}

    public static Path make(Path path) throws IOException, InterruptedException {
        Process mkfifo = new ProcessBuilder("mkfifo", path.toString()).start();
        assertEquals(0, mkfifo.waitFor(), "mkfifo " + path);
        return path;
    }

    /**
     * Lets go of a reader stuck in open(2) of the FIFO at path, if there is one (the failure the
     * tests look for): any open for writing does, and read-write never waits itself.
     */
    public static void release(Path path) {
        try (FileChannel ignored = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // opened
        } catch (IOException e) {
            // not a FIFO, or not there
        }
    }

    /**
     * Swaps what is at name with other (a FIFO, a link) by renames, as fast as it can, until
     * closed. Each round leaves name with its own entry again; it stops early if the test removed
     * one of them.
     */
    public static final class Swapper implements AutoCloseable {
        private final AtomicInteger swaps = new AtomicInteger();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;

        public Swapper(Path name, Path other, Path spare) {
            thread = new Thread(() -> {
                while (!stop.get()) {
                    try {
                        Files.move(name, spare, StandardCopyOption.ATOMIC_MOVE);
                        Files.move(other, name, StandardCopyOption.ATOMIC_MOVE);
                        Files.move(name, other, StandardCopyOption.ATOMIC_MOVE);
                        Files.move(spare, name, StandardCopyOption.ATOMIC_MOVE);
                        swaps.incrementAndGet();
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            thread.setDaemon(true);
            thread.start();
        }

        public int swaps() {
            return swaps.get();
        }

        /** Returns once the first swap is done, so that what comes next races with the rest. */
        public void awaitRunning() throws InterruptedException {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (swaps.get() == 0 && thread.isAlive() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            if (swaps.get() == 0) {
                throw new AssertionError("the swapper did not run");
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join();
        }
    }
}
