package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.kernel.Event;
import dev.interpretersandbox.kernel.KernelMessage;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns driver messages into API events. Consecutive output of the same stream is coalesced
 * into one event (stamped when its first part arrived). Not thread-safe: one per execution.
 */
final class EventCollector {

    private final List<Event> events = new ArrayList<>();
    private String streamName;
    private StringBuilder streamText;
    private Instant streamStart;

    void accept(KernelMessage message) {
        JsonNode body = message.body();
        switch (message.type()) {
            case "stream" ->
                stream(
                        message.received(),
                        body.path("name").asText("stdout"),
                        body.path("text").asText(""));
            case "display_data" -> add(Event.display(message.received(), body.path("variants")));
            case "error" -> {
                List<String> traceback = new ArrayList<>();
                body.path("traceback").forEach(line -> traceback.add(line.asText()));
                add(Event.error(
                        message.received(),
                        body.path("ename").asText(),
                        body.path("evalue").asText(),
                        traceback));
            }
            default -> {
                // ready/done and unknown types are protocol, not events
            }
        }
    }

    void stream(Instant at, String name, String text) {
        if (text.isEmpty()) {
            return;
        }
        if (!name.equals(streamName)) {
            flushStream();
            streamName = name;
            streamText = new StringBuilder();
            streamStart = at;
        }
        streamText.append(text);
    }

    void add(Event event) {
        flushStream();
        events.add(event);
    }

    private void flushStream() {
        if (streamName != null) {
            events.add(Event.stream(streamStart, streamName, streamText.toString()));
            streamName = null;
            streamText = null;
        }
    }

    List<Event> events() {
        flushStream();
        return events;
    }
}
