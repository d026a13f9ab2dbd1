package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.ExecutionResult;
import dev.interpretersandbox.sandbox.ExecutionStatus;
import dev.interpretersandbox.sandbox.Workers;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Flow;
import org.junit.jupiter.api.Test;

/** The stream's side towards Quarkus REST: what pieces it hands over, and that they add up. */
class EventStreamTest {

    private final ObjectMapper mapper = new ObjectMapper().registerModule(new JavaTimeModule());

    /** Takes pieces one at a time, as the HTTP layer does: the next request after each write. */
    private static final class Reader implements Flow.Subscriber<byte[]> {
        final List<Integer> sizes = new ArrayList<>();
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        Flow.Subscription subscription;
        boolean completed;

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(byte[] piece) {
            sizes.add(piece.length);
            body.writeBytes(piece);
            subscription.request(1);
        }

        @Override
        public void onError(Throwable failure) {
            throw new AssertionError(failure);
        }

        @Override
        public void onComplete() {
            completed = true;
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
            stream.subscribe(reader);
            stream.started();
            String big = "q".repeat(5 * EventStream.MAX_PIECE + 123);
            stream.event(Event.stream(Instant.EPOCH, "stdout", "small\n"));
            stream.event(Event.stream(Instant.EPOCH, "stdout", big));
            stream.complete(new ExecutionResult(ExecutionStatus.OK, ExecutionResult.Usage.NONE));

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
}
