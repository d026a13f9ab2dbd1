package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import dev.interpretersandbox.sandbox.Workers;
import jakarta.ws.rs.core.Response;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** The stream's side towards Quarkus REST: what pieces it hands over, and that they add up. */
class EventStreamTest {

    private final ObjectMapper mapper = new ObjectMapper().registerModule(new JavaTimeModule());

    /** Takes pieces one at a time, as the HTTP layer does: the next write after each one. */
    private static final class Reader implements EventStream.Out {
        final List<Integer> sizes = new ArrayList<>();
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean completed;

        @Override
        public void write(byte[] piece, Runnable written) {
            sizes.add(piece.length);
            body.writeBytes(piece);
            written.run();
        }

        @Override
        public void end(byte[] last, Runnable written) {
            if (last != null) {
                sizes.add(last.length);
                body.writeBytes(last);
            }
            completed = true;
            written.run();
        }

        @Override
        public void abort() {
            throw new AssertionError("aborted");
        }
    }

    private EventStream stream(EventStream.Format format) {
        return new EventStream(
                format, mapper, new StallWatch(new Workers(null, null, null)), Duration.ofSeconds(30), () -> {});
    }

    @Test
    void aLargeEventGoesOutInBoundedPiecesThatAddUpToIt() throws Exception {
        for (EventStream.Format format : EventStream.Format.values()) {
            EventStream stream = stream(format);
            Reader reader = new Reader();
            stream.started();
            String big = "q".repeat(5 * EventStream.MAX_PIECE + 123);
            stream.event(Event.stream(Instant.EPOCH, "stdout", "small\n"));
            stream.event(Event.stream(Instant.EPOCH, "stdout", big));
            stream.complete(new ExecutionResult(ExecutionStatus.OK, ExecutionResult.Usage.NONE));
            Response answer = stream.answer().toCompletableFuture().getNow(null);
            assertSame(stream, answer.getEntity());
            assertFalse(stream.whole(), format + ": a result of this size is streamed");
            stream.deliver(reader);

            assertTrue(reader.completed, format + ": the response ends");
            assertTrue(reader.sizes.size() >= 6, format + ": split, not one piece of " + big.length());
            assertTrue(
                    reader.sizes.stream().allMatch(size -> size <= EventStream.MAX_PIECE),
                    format + ": no piece over the bound: " + reader.sizes);
            String body = reader.body.toString(StandardCharsets.UTF_8);
            String text = switch (format) {
                case JSON ->
                    mapper.readTree(body)
                            .path("events")
                            .get(1)
                            .path("data")
                            .path("text")
                            .asText();
                case NDJSON ->
                    mapper.readTree(body.split("\n")[1])
                            .path("data")
                            .path("text")
                            .asText();
                case SSE ->
                    mapper.readTree(body.lines()
                                    .filter(line -> line.startsWith("data: "))
                                    .skip(1)
                                    .findFirst()
                                    .orElseThrow()
                                    .substring("data: ".length()))
                            .path("data")
                            .path("text")
                            .asText();
            };
            assertEquals(big, text, format + ": the pieces add up to the event");
        }
    }

    @Test
    void aResultThatIsOverBeforeAnythingWasSentGoesOutWholeAndCountsAsDeliveredOnceWritten() throws Exception {
        // JSON holds its document back until the end (or a batch), so a quick cell's whole result
        // is one write; NDJSON sends each event as it comes, so only a cell without output is;
        // SSE writes ": started" as soon as the code starts.
        EventStream json = stream(EventStream.Format.JSON);
        json.started();
        json.event(Event.stream(Instant.EPOCH, "stdout", "hi\n"));
        CompletableFuture<Void> delivered = json.complete(
                        new ExecutionResult(ExecutionStatus.OK, ExecutionResult.Usage.NONE))
                .toCompletableFuture();
        Response answer = json.answer().toCompletableFuture().getNow(null);
        assertSame(json, answer.getEntity());
        assertEquals("application/json", answer.getHeaderString("Content-Type"));
        assertTrue(json.whole(), "a quick cell's result is written whole");
        assertFalse(delivered.isDone(), "not delivered before it was written");
        Reader reader = new Reader();
        json.deliver(reader);
        assertEquals(List.of(reader.body.size()), reader.sizes, "one write");
        String text = reader.body.toString(StandardCharsets.UTF_8);
        assertEquals(
                "hi\n",
                mapper.readTree(text)
                        .path("events")
                        .get(0)
                        .path("data")
                        .path("text")
                        .asText());
        assertEquals("ok", mapper.readTree(text).path("status").asText());
        assertTrue(delivered.isDone(), "delivered once written");

        EventStream ndjson = stream(EventStream.Format.NDJSON);
        ndjson.started();
        ndjson.complete(new ExecutionResult(ExecutionStatus.OK, ExecutionResult.Usage.NONE));
        assertTrue(ndjson.whole(), "NDJSON without output is whole too");

        EventStream ndjsonWithOutput = stream(EventStream.Format.NDJSON);
        ndjsonWithOutput.started();
        ndjsonWithOutput.event(Event.stream(Instant.EPOCH, "stdout", "hi\n"));
        assertTrue(ndjsonWithOutput.answer().toCompletableFuture().isDone(), "answered at the first event");
        assertFalse(ndjsonWithOutput.whole(), "NDJSON output is streamed as it comes");
    }

    @Test
    void aResponseThatEndsBeforeTheStreamDidCancelsItsExecution() {
        EventStream stream = stream(EventStream.Format.JSON);
        boolean[] cancelled = {false};
        stream.attach(() -> cancelled[0] = true);
        stream.started();
        stream.responseEnded(true); // say an error response went out instead
        assertTrue(cancelled[0]);
    }

    @Test
    void aStreamThatFailsBeforeItStartsIsAnOrdinaryError() {
        EventStream stream = stream(EventStream.Format.NDJSON);
        stream.failed(SandboxException.busy("too many"));
        CompletableFuture<Response> answer = stream.answer().toCompletableFuture();
        ExecutionException failure = assertThrows(ExecutionException.class, answer::get);
        assertSame(SandboxException.Kind.BUSY, ((SandboxException) failure.getCause()).kind());
    }

    @Test
    void aClientThatLeavesBeforeTheAnswerCancelsAndTheAnswerStillEnds() {
        EventStream stream = stream(EventStream.Format.JSON);
        boolean[] cancelled = {false};
        stream.attach(() -> cancelled[0] = true);
        stream.started();
        stream.clientGone();
        assertTrue(cancelled[0], "the execution is cancelled");
        assertTrue(stream.answer().toCompletableFuture().isCompletedExceptionally(), "the request is not left waiting");
    }
}
