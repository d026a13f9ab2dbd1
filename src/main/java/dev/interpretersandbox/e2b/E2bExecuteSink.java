package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.EventSink;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * An execution's events as E2B's Jupyter server streams them: one JSON object per line
 * ({@code stdout}, {@code stderr}, {@code result}, {@code error}, then {@code end_of_execution}),
 * written as they come, never a blank line (the SDK parses every line). Back-pressure as for the
 * service's own streams: the kernel's output waits while the client reads slowly, and a client
 * that reads nothing for the write-stall timeout is dropped.
 *
 * <p>Thread-safety: the sink's methods come from the execution's threads one at a time; writes go
 * to the response directly (Vert.x responses take writes from any thread) under this lock.
 */
final class E2bExecuteSink implements EventSink {

    /** Our MIME types and the fields E2B's Result has for them; other types keep their name. */
    private static final Map<String, String> FIELDS = Map.ofEntries(
            Map.entry("text/plain", "text"),
            Map.entry("text/html", "html"),
            Map.entry("text/markdown", "markdown"),
            Map.entry("image/svg+xml", "svg"),
            Map.entry("image/png", "png"),
            Map.entry("image/jpeg", "jpeg"),
            Map.entry("application/pdf", "pdf"),
            Map.entry("text/latex", "latex"),
            Map.entry("application/json", "json"),
            Map.entry("application/javascript", "javascript"));

    private final E2bReply reply;
    private final ObjectMapper mapper;
    private final Duration stallTimeout;
    private final CompletableFuture<Void> delivered = new CompletableFuture<>();
    private final int executionCount;
    private boolean headersSent;
    private boolean gone;

    E2bExecuteSink(E2bReply reply, ObjectMapper mapper, Duration stallTimeout, int executionCount) {
        this.executionCount = executionCount;
        this.reply = reply;
        this.mapper = mapper;
        this.stallTimeout = stallTimeout;
    }

    /** The client went away: nothing more is written, and a waiting kernel reader is let go. */
    synchronized void clientGone() {
        gone = true;
        notifyAll();
        delivered.complete(null);
    }

    /**
     * The first line goes out at once, with the headers: the SDK's request timeout runs until the
     * headers arrive, and only then its execution timeout (which drops the connection, and so
     * interrupts the cell).
     */
    @Override
    public synchronized void started() {
        write(Map.of("type", "number_of_executions", "execution_count", executionCount));
    }

    private void sendHeaders() {
        if (headersSent || gone) {
            return;
        }
        headersSent = true;
        HttpServerResponse response = reply.ctx().response();
        response.setChunked(true)
                .setStatusCode(200)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/x-ndjson")
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Accel-Buffering", "no");
        response.drainHandler(ignored -> {
            synchronized (this) {
                notifyAll();
            }
        });
    }

    @Override
    public void event(Event event) {
        Map<String, Object> line = switch (event.type()) {
            case Event.STREAM -> {
                Event.Stream stream = (Event.Stream) event.data();
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("type", stream.name());
                out.put("text", stream.text());
                out.put("timestamp", event.timestamp().toString());
                yield out;
            }
            case Event.DISPLAY -> result((Event.Display) event.data());
            case Event.ERROR -> {
                Event.Error error = (Event.Error) event.data();
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("type", "error");
                out.put("name", error.ename());
                out.put("value", error.evalue());
                out.put("traceback", String.join("\n", error.traceback()));
                yield out;
            }
            default -> null; // file events have no E2B counterpart
        };
        if (line != null) {
            write(line);
        }
    }

    private static Map<String, Object> result(Event.Display display) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("type", "result");
        for (Iterator<Map.Entry<String, JsonNode>> it = display.variants().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> variant = it.next();
            out.put(FIELDS.getOrDefault(variant.getKey(), variant.getKey()), variant.getValue());
        }
        if (display.chart() != null) {
            out.put("chart", display.chart());
        }
        out.put("is_main_result", display.main());
        return out;
    }

    private synchronized void write(Map<String, Object> line) {
        if (gone) {
            return;
        }
        sendHeaders();
        byte[] bytes;
        try {
            bytes = mapper.writeValueAsBytes(line);
        } catch (JsonProcessingException e) {
            return;
        }
        Buffer buffer = Buffer.buffer(bytes.length + 1).appendBytes(bytes).appendByte((byte) '\n');
        try {
            reply.ctx().response().write(buffer);
        } catch (RuntimeException e) {
            gone = true; // closed under us: the close handler cancels the execution
        }
    }

    @Override
    public synchronized boolean awaitRoom() {
        if (!headersSent) {
            return !gone; // nothing written yet: nothing to wait for
        }
        return reply.awaitRoom(this, stallTimeout, () -> gone, () -> gone = true);
    }

    @Override
    public CompletionStage<Void> complete(ExecutionResult result) {
        synchronized (this) {
            if (result.status() == ExecutionStatus.TIMEOUT) {
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("type", "error");
                line.put("name", "TimeoutError");
                line.put("value", "the execution ran longer than this server allows and was interrupted");
                line.put("traceback", "");
                write(line);
            }
            write(Map.of("type", "end_of_execution"));
            if (!gone) {
                try {
                    reply.ctx().response().end().onComplete(ignored -> delivered.complete(null));
                } catch (RuntimeException e) {
                    delivered.complete(null);
                }
            } else {
                delivered.complete(null);
            }
        }
        return delivered;
    }

    @Override
    public void failed(SandboxException error) {
        synchronized (this) {
            if (!headersSent && !gone) {
                reply.fail(error); // an ordinary error response: the execution never started
                delivered.complete(null);
                return;
            }
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("type", "error");
            line.put("name", "ExecutionError");
            line.put("value", error.getMessage());
            line.put("traceback", "");
            write(line);
            if (!gone) {
                try {
                    reply.ctx().response().end();
                } catch (RuntimeException e) {
                    // closed meanwhile
                }
            }
            delivered.complete(null);
        }
    }
}
