package dev.interpretersandbox.e2b;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.EventSink;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A command's output as envd's process.Process/Start stream: a start event with the pid, data
 * events (the bytes, base64), keepalives at the interval the client asked for, an end event with
 * the exit code, and Connect's end-of-stream message, which the SDK requires. A command stopped
 * at its timeout ends with a deadline_exceeded error instead, as envd's does.
 *
 * <p>Thread-safety: as {@link E2bExecuteSink}; the keepalive timer writes under the same lock.
 */
final class ProcessStream implements EventSink {

    private final E2bReply reply;
    private final ObjectMapper mapper;
    private final Duration stallTimeout;
    private final CompletableFuture<Void> delivered = new CompletableFuture<>();
    private boolean begun;
    private boolean gone;
    private ScheduledFuture<?> keepalives;

    ProcessStream(E2bReply reply, ObjectMapper mapper, Duration stallTimeout) {
        this.reply = reply;
        this.mapper = mapper;
        this.stallTimeout = stallTimeout;
    }

    /** The command runs: the response starts with its pid, and keepalives follow every interval. */
    synchronized void begin(long pid, ScheduledExecutorService timers, Duration interval) {
        begun = true;
        HttpServerResponse response = reply.ctx().response();
        response.setChunked(true).setStatusCode(200).putHeader(HttpHeaders.CONTENT_TYPE, "application/connect+json");
        response.drainHandler(ignored -> {
            synchronized (this) {
                notifyAll();
            }
        });
        send(Map.of("event", Map.of("start", Map.of("pid", pid))));
        keepalives = timers.scheduleAtFixedRate(
                () -> {
                    synchronized (this) {
                        send(Map.of("event", Map.of("keepalive", Map.of())));
                    }
                },
                interval.toNanos(),
                interval.toNanos(),
                TimeUnit.NANOSECONDS);
    }

    synchronized void clientGone() {
        gone = true;
        stopKeepalives();
        notifyAll();
        delivered.complete(null);
    }

    @Override
    public void started() {}

    @Override
    public synchronized void event(Event event) {
        if (event.data() instanceof Event.Stream stream) {
            String encoded = Base64.getEncoder().encodeToString(stream.text().getBytes(StandardCharsets.UTF_8));
            send(Map.of("event", Map.of("data", Map.of(stream.name(), encoded))));
        }
    }

    @Override
    public synchronized boolean awaitRoom() {
        return reply.awaitRoom(this, stallTimeout, () -> gone, () -> gone = true);
    }

    @Override
    public synchronized CompletionStage<Void> complete(ExecutionResult result) {
        stopKeepalives();
        if (result.status() == ExecutionStatus.TIMEOUT) {
            finish(Map.of(
                    "error",
                    Map.of(
                            "code",
                            "deadline_exceeded",
                            "message",
                            "the command ran longer than its timeout and was stopped")));
        } else {
            int code = result.exitCode() == null ? -1 : result.exitCode();
            send(Map.of(
                    "event", Map.of("end", Map.of("exitCode", code, "exited", true, "status", "exit status " + code))));
            finish(Map.of());
        }
        return delivered;
    }

    @Override
    public synchronized void failed(SandboxException error) {
        stopKeepalives();
        if (!begun) {
            reply.fail(error);
            delivered.complete(null);
            return;
        }
        finish(Map.of("error", Map.of("code", E2bReply.connectCode(500), "message", error.getMessage())));
    }

    private void finish(Map<String, Object> endStream) {
        if (gone) {
            delivered.complete(null);
            return;
        }
        try {
            reply.ctx()
                    .response()
                    .end(ConnectEnvelope.frame(ConnectEnvelope.END_STREAM, bytes(endStream)))
                    .onComplete(ignored -> delivered.complete(null));
        } catch (RuntimeException e) {
            delivered.complete(null); // closed under us
        }
    }

    private void send(Map<String, Object> message) {
        if (gone) {
            return;
        }
        try {
            reply.ctx().response().write(ConnectEnvelope.frame((byte) 0, bytes(message)));
        } catch (RuntimeException e) {
            gone = true; // closed under us: the close handler stops the command
        }
    }

    private byte[] bytes(Object message) {
        try {
            return mapper.writeValueAsBytes(message);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a process event", e);
        }
    }

    private void stopKeepalives() {
        if (keepalives != null) {
            keepalives.cancel(false);
        }
    }
}
