package dev.interpretersandbox.api;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A request body as a blocking InputStream with back-pressure: the event loop queues chunks and
 * pauses the request when the reader falls behind; the reader (a worker thread) resumes it.
 * Memory stays at a few MiB whatever the upload size.
 *
 * <p>Thread-safety: one event-loop producer, one worker-thread consumer.
 */
final class RequestBodyStream extends InputStream {

    private static final Object END = new Object();
    // Bytes queued between the event loop and the reader: enough to keep the disk busy, small
    // enough that an upload costs a few MiB of heap at most.
    private static final long HIGH_WATER = 4L << 20;
    private static final long LOW_WATER = 1L << 20;

    private final HttpServerRequest request;
    private final Context context;
    private final Duration stallTimeout;
    private final LinkedBlockingQueue<Object> chunks = new LinkedBlockingQueue<>();
    private final AtomicBoolean paused = new AtomicBoolean();
    private final AtomicLong queuedBytes = new AtomicLong();
    private volatile boolean abandoned;
    private Buffer current;
    private int position;
    private boolean ended;

    /** Must be created on the request's event loop, before the body arrives. */
    RequestBodyStream(HttpServerRequest request, Context context, Duration stallTimeout) {
        this.request = request;
        this.context = context;
        this.stallTimeout = stallTimeout;
        request.handler(chunk -> {
            if (abandoned) {
                return; // the reader is gone: drop, never queue without bound
            }
            chunks.add(chunk);
            if (queuedBytes.addAndGet(chunk.length()) >= HIGH_WATER && paused.compareAndSet(false, true)) {
                request.pause();
                // The reader may have drained the queue between the add and the pause; it saw
                // paused == false then and will not resume, so resume here or the upload stalls.
                if (queuedBytes.get() <= LOW_WATER && paused.compareAndSet(true, false)) {
                    request.resume();
                }
            }
        });
        request.endHandler(v -> chunks.add(END));
        request.exceptionHandler(chunks::add);
    }

    /** The reader stopped early (refused or failed upload): drop whatever still arrives. */
    void abandon() {
        abandoned = true;
        chunks.clear();
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] target, int offset, int length) throws IOException {
        if (length == 0) {
            return 0;
        }
        while (current == null || position >= current.length()) {
            if (ended) {
                return -1;
            }
            Object next;
            try {
                next = chunks.poll(stallTimeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while reading the upload", e);
            }
            if (next == null) {
                throw new IOException("the upload stalled for " + stallTimeout.toSeconds() + " s");
            }
            if (next == END) {
                ended = true;
                return -1;
            }
            if (next instanceof Throwable failure) {
                throw new IOException("the upload was aborted: " + failure.getMessage(), failure);
            }
            current = (Buffer) next;
            position = 0;
            if (queuedBytes.addAndGet(-current.length()) <= LOW_WATER && paused.compareAndSet(true, false)) {
                context.runOnContext(v -> request.resume());
            }
        }
        int n = Math.min(length, current.length() - position);
        current.getBytes(position, position + n, target, offset);
        position += n;
        return n;
    }
}
