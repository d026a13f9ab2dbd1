package dev.interpretersandbox.api;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import io.netty.buffer.ByteBuf;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.streams.ReadStream;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * An upload's body on its way to the workspace, without a thread waiting on the client: the event
 * loop queues the chunks as they arrive, a writer task on the execution threads writes what is
 * queued in one gathering write, and the request is paused while more than {@link #HIGH_WATER}
 * bytes wait, so an upload holds a few MiB whatever its size. A client that sends nothing for the
 * read-stall timeout is dropped; a body past the workspace's room is refused as it arrives.
 *
 * <p>Thread-safety: chunks arrive on the request's event loop, writes happen on one writer task at
 * a time; the queue is guarded by this object's lock.
 */
public final class UploadStream {

    static final long HIGH_WATER = 8L << 20;
    static final long LOW_WATER = 2L << 20;

    private final RoutingContext ctx;
    private final ReadStream<Buffer> source; // the request's body, or one part of a multipart body
    private final HttpServerRequest request;
    private final Context context;
    private final Workspace.Upload upload;
    private final Executor writer;
    private final ScheduledExecutorService timers;
    private final Duration stallTimeout;
    private final CompletableFuture<Long> result = new CompletableFuture<>();
    private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
    private long queued;
    private boolean writing;
    private boolean paused;
    private boolean ended;
    private boolean over;
    private long lastChunk = System.nanoTime();
    private ScheduledFuture<?> stallCheck;

    UploadStream(
            RoutingContext ctx,
            Context context,
            Workspace.Upload upload,
            Executor writer,
            ScheduledExecutorService timers,
            Duration stallTimeout) {
        this(ctx, ctx.request(), context, upload, writer, timers, stallTimeout);
    }

    /** An upload from source: the request itself, or one file part of its multipart body. */
    public UploadStream(
            RoutingContext ctx,
            ReadStream<Buffer> source,
            Context context,
            Workspace.Upload upload,
            Executor writer,
            ScheduledExecutorService timers,
            Duration stallTimeout) {
        this.ctx = ctx;
        this.source = source;
        this.request = ctx.request();
        this.context = context;
        this.upload = upload;
        this.writer = writer;
        this.timers = timers;
        this.stallTimeout = stallTimeout;
    }

    /** Starts reading the (paused) body, on the request's event loop; completes with the bytes written. */
    public CompletionStage<Long> start() {
        source.handler(this::chunk);
        source.endHandler(ignored -> end());
        source.exceptionHandler(e -> fail(SandboxException.invalid("the upload was aborted: " + e.getMessage())));
        if (source == request && "100-continue".equalsIgnoreCase(request.getHeader(HttpHeaders.EXPECT))) {
            request.response().writeContinue();
        }
        synchronized (this) {
            stallCheck = timers.schedule(this::checkStall, stallTimeout.toNanos(), TimeUnit.NANOSECONDS);
        }
        source.resume();
        return result;
    }

    private void chunk(Buffer chunk) {
        boolean startWriter;
        synchronized (this) {
            if (over) {
                return;
            }
            lastChunk = System.nanoTime();
            queue.add(chunk);
            queued += chunk.length();
            if (queued >= HIGH_WATER && !paused) {
                paused = true;
                source.pause();
            }
            startWriter = !writing;
            writing = true;
        }
        if (startWriter) {
            writer.execute(this::write);
        }
    }

    private void end() {
        boolean commitNow;
        synchronized (this) {
            ended = true;
            commitNow = !writing && !over;
            if (commitNow) {
                writing = true;
            }
        }
        if (commitNow) {
            writer.execute(this::write);
        }
    }

    /** The writer task: writes what is queued until nothing is, then commits once the body ended. */
    private void write() {
        while (true) {
            List<Buffer> batch;
            boolean commit;
            synchronized (this) {
                if (over) {
                    writing = false;
                    return;
                }
                batch = new ArrayList<>(queue);
                queue.clear();
                queued = 0;
                commit = batch.isEmpty() && ended;
                if (batch.isEmpty() && !ended) {
                    writing = false;
                    return;
                }
                if (paused && !commit) {
                    paused = false;
                    context.runOnContext(ignored -> source.resume());
                }
            }
            try {
                if (commit) {
                    long size = upload.commit();
                    synchronized (this) {
                        over = true;
                        writing = false;
                    }
                    cancelStallCheck();
                    result.complete(size);
                    return;
                }
                writeBatch(batch);
            } catch (SandboxException e) {
                fail(e);
                return;
            } catch (Exception e) {
                fail(new SandboxException(
                        SandboxException.Kind.INTERNAL, "the upload could not be written: " + e.getMessage(), e));
                return;
            }
        }
    }

    /**
     * Writes a batch through one direct buffer per writer thread: chunks arrive as heap buffers,
     * and writing those directly made the JDK allocate a temporary direct buffer per chunk (most
     * of an upload's time); copying them into one reused buffer costs a memcpy and nothing else.
     */
    private void writeBatch(List<Buffer> batch) throws IOException {
        ByteBuffer direct = DIRECT.get();
        for (Buffer buffer : batch) {
            ByteBuf bytes = buffer.getByteBuf();
            int index = bytes.readerIndex();
            int left = bytes.readableBytes();
            while (left > 0) {
                int n = Math.min(left, direct.remaining());
                bytes.getBytes(index, direct.slice(direct.position(), n));
                direct.position(direct.position() + n);
                index += n;
                left -= n;
                if (!direct.hasRemaining()) {
                    flush(direct);
                }
            }
        }
        flush(direct);
    }

    private void flush(ByteBuffer direct) throws IOException {
        direct.flip();
        if (direct.hasRemaining()) {
            upload.write(direct);
        }
        direct.clear();
    }

    private static final ThreadLocal<ByteBuffer> DIRECT =
            ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(1 << 20));

    private void checkStall() {
        synchronized (this) {
            if (over) {
                return;
            }
            long idle = System.nanoTime() - lastChunk;
            if (paused || ended || idle < stallTimeout.toNanos()) {
                long wait = paused || ended ? stallTimeout.toNanos() : stallTimeout.toNanos() - idle;
                stallCheck = timers.schedule(this::checkStall, wait, TimeUnit.NANOSECONDS);
                return;
            }
        }
        fail(SandboxException.invalid("the upload stalled: nothing arrived for " + stallTimeout.toSeconds() + " s"));
    }

    private void cancelStallCheck() {
        ScheduledFuture<?> check;
        synchronized (this) {
            check = stallCheck;
        }
        if (check != null) {
            check.cancel(false);
        }
    }

    /** Ends the upload without keeping anything; the rest of the body is not read. */
    private void fail(SandboxException error) {
        boolean readAll;
        synchronized (this) {
            if (over) {
                return;
            }
            over = true;
            queue.clear();
            queued = 0;
            readAll = ended;
        }
        cancelStallCheck();
        writer.execute(upload::close); // removes the partial file
        context.runOnContext(ignored -> {
            if (!readAll) {
                // answer, then hang up instead of reading the rest of a body we refused
                source.pause();
                request.pause();
                BodyLimits.close(ctx);
            }
            result.completeExceptionally(error);
        });
    }
}
