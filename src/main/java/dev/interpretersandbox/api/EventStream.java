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
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * One execution's response body, written as its events happen, with back-pressure: the sink of
 * the execution on one side, the HTTP response on the other ({@link #answer}, then
 * {@link EventStreamWriter}). The next piece is written only once the last one reached the
 * socket, so a client that stops reading stops the flow: this stream holds at most
 * {@link #HIGH_WATER} bytes beyond the piece being written, the kernel's reader waits
 * ({@link #awaitRoom}), and so does the kernel. A response that makes no progress for the stall
 * timeout is closed, which cancels its execution. A result that is over before anything was sent
 * goes out in one write with a Content-Length instead.
 *
 * <p>The three formats write the same events: the JSON document {@code {"events": [...],
 * "status", "usage"}} piece by piece, NDJSON (a line per event, then the status line), or
 * server-sent events ({@code event: <type>}, then {@code event: done}). Every piece ends with a
 * newline, which is whitespace between JSON tokens, and ends each NDJSON line or SSE message.
 *
 * <p>Thread-safety: sink calls come from the sandbox's threads (one at a time), write completions
 * and the response's end from the event loop; state is guarded by this object's lock, and pieces
 * reach the response one at a time from a drain loop, never under the lock.
 */
public final class EventStream implements EventSink {

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
    private final CompletableFuture<Response> answer = new CompletableFuture<>();
    private Out out;
    private Runnable cancel; // what a client that leaves stops: the execution or the command
    private long queued;
    /** How much of the first queued piece has been taken already. */
    private int headOffset;

    private boolean answered;
    private boolean whole;
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
            drain(); // an ordinary error response: answered before any piece
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

    // ---- the response side -----------------------------------------------------------------

    /** Where the body goes: the HTTP response ({@link EventStreamWriter}), or a test's reader. */
    interface Out {
        /** Writes a piece; written runs once it reached the socket (or the write failed). */
        void write(byte[] piece, Runnable written);

        /** Writes the last piece (or nothing more, when null) and ends the body; then as write. */
        void end(byte[] last, Runnable written);

        /** The body will not be finished (the client left): the request is over all the same. */
        void abort();
    }

    /**
     * The response, once there is something to answer: an ordinary error when the stream failed
     * before it started, else this stream, which Quarkus REST hands to {@link EventStreamWriter}.
     */
    CompletionStage<Response> answer() {
        return answer;
    }

    /**
     * Whether the body is all here: the execution ended before anything was sent and fits one
     * piece. It then goes out as one write with a Content-Length (most cells), else chunked.
     */
    synchronized boolean whole() {
        return whole;
    }

    /** Quarkus REST writes the response: pieces go to out from now on. */
    void deliver(Out target) {
        boolean gone;
        synchronized (this) {
            out = target;
            gone = cancelled;
        }
        if (gone) {
            target.abort();
            return;
        }
        drain();
    }

    /**
     * The HTTP response ended (Vert.x says so as the end is handed over, before it is written) or
     * the connection went (failed). Either, before this stream's own end, means the client will
     * not get the rest: the execution is cancelled and the delivery is over.
     */
    void responseEnded(boolean succeeded) {
        boolean early;
        synchronized (this) {
            early = !completeSent;
        }
        if (!succeeded || early) {
            clientGone();
        }
    }

    private void lastWritten() {
        synchronized (this) {
            inFlight = false;
            notifyAll();
        }
        finishDelivery(); // the client has everything: the sandbox may go on
    }

    private void written() {
        synchronized (this) {
            inFlight = false; // the piece reached the socket: the next may go
            lastProgress = System.nanoTime();
            notifyAll();
        }
        drain();
    }

    /**
     * Answers, then hands pieces to out one at a time as the last one is written, one thread at a
     * time and outside the lock. The last piece goes with the end, so the response ends as soon as
     * it is written.
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
            Out target = null;
            SandboxException failure = null;
            Response response = null;
            byte[] piece = null;
            boolean end = false;
            synchronized (this) {
                if (cancelled) {
                    draining = false;
                    return;
                }
                if (!answered && earlyFailure != null) {
                    answered = true;
                    failure = earlyFailure;
                } else if (!answered && sendable()) {
                    answered = true;
                    lastProgress = System.nanoTime();
                    whole = ended && queued <= MAX_PIECE;
                    response = headers(Response.ok(this)).build();
                } else if (out != null && !inFlight && !completeSent && (sendable() || ended)) {
                    target = out;
                    piece = pieces.isEmpty() ? null : take();
                    end = ended && pieces.isEmpty();
                    inFlight = true; // the last piece too: a client that reads nothing stalls
                    completeSent = end;
                    notifyAll();
                } else if (!missed) {
                    draining = false;
                    return;
                }
                missed = false;
            }
            try {
                if (failure != null) {
                    finishDelivery();
                    answer.completeExceptionally(failure); // an ordinary error response
                } else if (response != null) {
                    answer.complete(response);
                } else if (end) {
                    target.end(piece, this::lastWritten);
                } else if (piece != null) {
                    target.write(piece, this::written);
                }
            } catch (RuntimeException e) {
                // the response is unusable (ended or reset under us): stop as if the client left
                synchronized (this) {
                    draining = false;
                }
                LOG.debugf("an execute response failed: %s", e.getMessage());
                clientGone();
                return;
            }
        }
    }

    private Response.ResponseBuilder headers(Response.ResponseBuilder response) {
        response.header(
                HttpHeaders.CONTENT_TYPE,
                format == Format.SSE ? format.mediaType + "; charset=utf-8" : format.mediaType);
        if (format != Format.JSON) {
            response.header("Cache-Control", "no-cache");
            response.header("X-Accel-Buffering", "no"); // proxies such as nginx must not hold lines back
        }
        return response;
    }

    /**
     * What is queued, as one piece of at most {@link #MAX_PIECE} bytes: one write instead of one
     * per event, and no more. A 25 MB display handed to the HTTP layer whole would cost several
     * times its size in heap at once. Under the lock.
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
    void clientGone() {
        Runnable running;
        boolean unanswered;
        Out unfinished;
        synchronized (this) {
            if (cancelled) {
                return;
            }
            cancelled = true;
            pieces.clear();
            headOffset = 0;
            queued = 0;
            running = cancel;
            unanswered = !answered;
            answered = true;
            unfinished = completeSent ? null : out;
            notifyAll();
        }
        finishDelivery();
        if (unfinished != null) {
            unfinished.abort();
        }
        if (unanswered) {
            // nobody reads it, but the request must not wait for an answer forever
            answer.completeExceptionally(SandboxException.invalid("the client went away"));
        }
        if (running != null) {
            running.run();
        }
    }
}
