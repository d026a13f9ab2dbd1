package dev.interpretersandbox.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.EventSink;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * One execution's response body, written as its events happen, with back-pressure: the sink of
 * the execution on one side, a {@link Flow.Publisher} of body pieces that Quarkus REST writes on
 * the other. Quarkus REST asks for the next piece only once the last one reached the socket, so
 * a client that stops reading stops the flow: this stream holds at most {@link #HIGH_WATER} bytes
 * beyond the piece being written, the kernel's reader waits ({@link #awaitRoom}), and so does the
 * kernel. A response that makes no progress for the stall timeout is closed, which cancels its
 * execution.
 *
 * <p>The three formats write the same events: the JSON document {@code {"events": [...],
 * "status", "usage"}} piece by piece, NDJSON (a line per event, then the status line), or
 * server-sent events ({@code event: <type>}, then {@code event: done}). Every piece ends with a
 * newline, which is whitespace between JSON tokens, and ends each NDJSON line or SSE message.
 *
 * <p>Thread-safety: sink calls come from the sandbox's threads (one at a time), subscription
 * calls from the event loop; state is guarded by this object's lock, and pieces reach the
 * subscriber one at a time from a drain loop, never under the lock.
 */
final class EventStream implements EventSink, Flow.Publisher<byte[]> {

    private static final Logger LOG = Logger.getLogger(EventStream.class);

    /** Bytes held beyond the piece in flight before the kernel's output has to wait. */
    static final int HIGH_WATER = 256 * 1024;
    /**
     * The plain JSON document is written when it is complete or when this much of it waits: a
     * short result goes out in one write instead of a write per event (the client reads it whole
     * anyway), a long one still streams with back-pressure.
     */
    static final int JSON_BATCH = 64 * 1024;

    /** The largest piece handed to Quarkus REST at once (see {@link #take()}). */
    static final int MAX_PIECE = 1024 * 1024;

    enum Format {
        JSON("application/json"),
        NDJSON("application/x-ndjson"),
        SSE("text/event-stream");

        final String mediaType;

        Format(String mediaType) {
            this.mediaType = mediaType;
        }

        /** The format a client's Accept header asks for: the first streaming type named, else JSON. */
        static Format of(String accept) {
            if (accept == null) {
                return JSON;
            }
            String lower = accept.toLowerCase(Locale.ROOT);
            int ndjson = lower.indexOf(NDJSON.mediaType);
            int sse = lower.indexOf(SSE.mediaType);
            if (ndjson < 0 && sse < 0) {
                return JSON;
            }
            if (ndjson < 0) {
                return SSE;
            }
            return sse < 0 || ndjson < sse ? NDJSON : SSE;
        }
    }

    /** The last line of a stream, and the tail of the JSON document. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record End(ExecutionStatus status, Integer exitCode, String error, ExecutionResult.Usage usage) {}

    private final Format format;
    private final ObjectMapper mapper;
    private final StallWatch watch;
    private final Duration stallTimeout;
    private final Runnable closeConnection;
    private final ArrayDeque<byte[]> pieces = new ArrayDeque<>();
    private final CompletableFuture<Void> delivered = new CompletableFuture<>();
    private Flow.Subscriber<? super byte[]> subscriber;
    private Runnable cancel; // what a client that leaves stops: the execution or the command
    private long queued;
    /** How much of the first queued piece has been taken already. */
    private int headOffset;

    private long demand;
    private boolean inFlight;
    private boolean started;
    private boolean firstEvent = true;
    private boolean ended;
    private boolean cancelled;
    private SandboxException earlyFailure;
    private boolean draining;
    private boolean missed;
    private long lastProgress = System.nanoTime();
    private boolean completeSent;

    EventStream(Format format, ObjectMapper mapper, StallWatch watch, Duration stallTimeout, Runnable closeConnection) {
        this.format = format;
        this.mapper = mapper;
        this.watch = watch;
        this.stallTimeout = stallTimeout;
        this.closeConnection = closeConnection;
    }

    Format format() {
        return format;
    }

    /** What this stream belongs to: a client that leaves cancels it (an execution, a command). */
    void attach(Runnable cancelling) {
        boolean cancelNow;
        synchronized (this) {
            cancel = cancelling;
            cancelNow = cancelled;
        }
        if (cancelNow) {
            cancelling.run();
        }
    }

    // ---- the sink side -----------------------------------------------------------------------

    @Override
    public void started() {
        synchronized (this) {
            started = true;
            switch (format) {
                case JSON -> enqueue("{\"events\":[");
                case SSE -> enqueue(": started\n");
                case NDJSON -> {
                    // the first line goes with the first event
                }
            }
        }
        drain();
    }

    @Override
    public void event(Event event) {
        boolean first;
        synchronized (this) {
            first = firstEvent;
            firstEvent = false;
        }
        // One piece, serialised straight into its bytes: an event may be a display of tens of MB,
        // and every intermediate copy of it would count against the heap.
        byte[] piece = switch (format) {
            case JSON -> bytes(first ? "" : ",", event, "\n");
            case NDJSON -> bytes("", event, "\n");
            case SSE -> bytes("event: " + event.type() + "\ndata: ", event, "\n\n");
        };
        synchronized (this) {
            enqueue(piece);
        }
        drain();
    }

    private byte[] bytes(String prefix, Object value, String suffix) {
        try (ByteArrayBuilder out = new ByteArrayBuilder(prefix.length() + 256)) {
            out.write(prefix.getBytes(StandardCharsets.UTF_8));
            mapper.writeValue(out, value);
            out.write(suffix.getBytes(StandardCharsets.UTF_8));
            return out.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise an event", e);
        }
    }

    @Override
    public synchronized boolean awaitRoom() {
        while (queued > HIGH_WATER && !cancelled) {
            long waited = System.nanoTime() - lastProgress;
            long left = stallTimeout.toNanos() - waited;
            if (left <= 0) {
                stalled();
                return false;
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return !cancelled;
    }

    @Override
    public CompletionStage<Void> complete(ExecutionResult result) {
        end(new End(result.status(), result.exitCode(), null, result.usage()));
        return delivered;
    }

    @Override
    public void failed(SandboxException error) {
        boolean before;
        synchronized (this) {
            before = !started;
            if (before) {
                earlyFailure = error;
            }
        }
        if (before) {
            drain(); // an ordinary error response: the subscriber gets onError before any piece
            return;
        }
        end(new End(ExecutionStatus.ERROR, null, error.getMessage(), null));
    }

    private void end(End end) {
        synchronized (this) {
            if (ended) {
                return;
            }
            ended = true;
            if (!inFlight) {
                lastProgress = System.nanoTime(); // all of it may go now: the client's clock starts
            }
            if (!started) {
                started = true;
                if (format == Format.JSON) {
                    enqueue("{\"events\":[");
                }
            }
            String json = json(end);
            switch (format) {
                case JSON -> enqueue("]," + json.substring(1)); // {"status":...} closes the document
                case NDJSON -> enqueue(json);
                case SSE -> enqueue("event: done\ndata: " + json + "\n");
            }
        }
        drain();
    }

    /** Whether what is queued may go out now (the JSON document waits for a batch or its end). */
    private boolean sendable() {
        return !pieces.isEmpty() && (format != Format.JSON || ended || queued >= JSON_BATCH);
    }

    private void enqueue(String piece) {
        enqueue((piece + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private void enqueue(byte[] bytes) {
        if (cancelled) {
            return;
        }
        boolean waited = sendable() || inFlight;
        pieces.add(bytes);
        queued += bytes.length;
        if (!waited && sendable()) {
            lastProgress = System.nanoTime(); // the client's clock starts when there is something to take
        }
    }

    private String json(Object value) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise an event", e);
        }
    }

    // ---- the publisher side ------------------------------------------------------------------

    @Override
    public void subscribe(Flow.Subscriber<? super byte[]> subscriber) {
        synchronized (this) {
            this.subscriber = subscriber;
        }
        subscriber.onSubscribe(new Flow.Subscription() {
            @Override
            public void request(long n) {
                synchronized (EventStream.this) {
                    demand += n;
                    inFlight = false; // a request follows the write of the last piece
                    lastProgress = System.nanoTime();
                    EventStream.this.notifyAll();
                }
                drain();
            }

            @Override
            public void cancel() {
                clientGone();
            }
        });
        drain();
    }

    /**
     * Hands pieces to the subscriber while it asks for them, one thread at a time and outside the
     * lock. The last piece and the end go together, so the response ends as soon as it is written;
     * the delivery counts as done once the subscriber asks again (the last write reached the
     * socket).
     */
    private void drain() {
        synchronized (this) {
            if (draining) {
                missed = true;
                return;
            }
            draining = true;
        }
        while (true) {
            Flow.Subscriber<? super byte[]> target;
            SandboxException failure = null;
            byte[] piece = null;
            boolean complete = false;
            boolean done = false;
            synchronized (this) {
                target = subscriber;
                if (target == null || cancelled) {
                    draining = false;
                    return;
                }
                if (earlyFailure != null && !completeSent) {
                    failure = earlyFailure;
                    completeSent = true;
                } else if (demand > 0 && sendable()) {
                    piece = take();
                    demand--;
                    inFlight = true;
                    complete = ended && pieces.isEmpty() && !completeSent;
                    completeSent |= complete;
                    notifyAll();
                } else if (ended && pieces.isEmpty() && !inFlight && !completeSent) {
                    complete = true;
                    completeSent = true;
                } else if (completeSent && !inFlight && !delivered.isDone()) {
                    done = true;
                } else if (!missed) {
                    draining = false;
                    return;
                }
                missed = false;
            }
            if (failure != null) {
                finishDelivery();
                target.onError(failure);
                continue;
            }
            if (piece != null) {
                target.onNext(piece);
            }
            if (complete) {
                target.onComplete();
            }
            if (done) {
                finishDelivery();
            }
        }
    }

    /**
     * What is queued, as one piece of at most {@link #MAX_PIECE} bytes: one write instead of one
     * per event, and no more. Quarkus REST copies every piece into a growing buffer before it
     * writes it, so a 25 MB display handed over whole would cost several times its size in heap
     * at once. Under the lock.
     */
    private byte[] take() {
        int size = (int) Math.min(queued, MAX_PIECE);
        byte[] first = pieces.peek();
        if (headOffset == 0 && first.length == size) {
            pieces.poll();
            queued -= size;
            return first;
        }
        byte[] piece = new byte[size];
        int at = 0;
        while (at < size) {
            byte[] head = pieces.peek();
            int n = Math.min(head.length - headOffset, size - at);
            System.arraycopy(head, headOffset, piece, at, n);
            at += n;
            headOffset += n;
            if (headOffset == head.length) {
                pieces.poll();
                headOffset = 0;
            }
        }
        queued -= size;
        return piece;
    }

    private void finishDelivery() {
        watch.remove(this);
        delivered.complete(null);
    }

    /** The stall watch's check: closes a response that made no progress for the stall timeout. */
    void checkStall(long now) {
        synchronized (this) {
            if (cancelled || delivered.isDone()) {
                return;
            }
            boolean waiting = sendable() || inFlight;
            if (!waiting || now - lastProgress < stallTimeout.toNanos()) {
                return;
            }
        }
        stalled();
    }

    private void stalled() {
        LOG.infof("closing an execute response whose client read nothing for %d s", stallTimeout.toSeconds());
        closeConnection.run(); // the close reaches clientGone through the subscription's cancel
        clientGone();
    }

    /** The client left or stalled: drop what is held, wake the kernel's reader, cancel the execution. */
    private void clientGone() {
        Runnable running;
        synchronized (this) {
            if (cancelled) {
                return;
            }
            cancelled = true;
            pieces.clear();
            headOffset = 0;
            queued = 0;
            running = cancel;
            notifyAll();
        }
        finishDelivery();
        if (running != null) {
            running.run();
        }
    }
}
