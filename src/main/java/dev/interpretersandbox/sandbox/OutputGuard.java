package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.Event;
import dev.interpretersandbox.kernel.KernelMessage;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Turns driver messages into API events for one execution and enforces its output caps. The
 * driver cuts output at the same caps, but it shares a process with user code, so the caps are
 * enforced here again. Past a cap, output is dropped and one stderr note per kind says so.
 *
 * <p>With {@code coalesce}, consecutive output of the same stream becomes one event (stamped when
 * its first part arrived) and is passed on when something else comes or at {@link #finish};
 * without it (streaming), each piece is passed on as it arrives. Not thread-safe: one per
 * execution, on the executing thread.
 */
final class OutputGuard {

    private enum Cut {
        STREAM,
        DISPLAY,
        LINE
    }

    private final ExecutionListener listener;
    private final boolean coalesce;
    private final long maxStreamBytes;
    private final long maxDisplayBytes;
    private final int maxDisplays;
    private final Set<Cut> cuts = EnumSet.noneOf(Cut.class);
    private long streamBytes;
    private long displayBytes;
    private int displays;
    private String streamName;
    private StringBuilder streamText;
    private Instant streamStart;

    OutputGuard(SandboxConfig.Output caps, ExecutionListener listener, boolean coalesce) {
        this.listener = listener;
        this.coalesce = coalesce;
        this.maxStreamBytes = caps.maxStreamBytes().asLongValue();
        this.maxDisplayBytes = caps.maxDisplayBytes().asLongValue();
        this.maxDisplays = caps.maxDisplays();
    }

    void accept(KernelMessage message) {
        JsonNode body = message.body();
        switch (message.type()) {
            case "stream" ->
                stream(
                        message.received(),
                        body.path("name").asText("stdout"),
                        body.path("text").asText(""));
            case "display_data" -> display(message.received(), body.path("variants"));
            case "error" -> {
                List<String> traceback = new ArrayList<>();
                body.path("traceback").forEach(line -> traceback.add(line.asText()));
                add(Event.error(
                        message.received(),
                        body.path("ename").asText(),
                        body.path("evalue").asText(),
                        traceback));
            }
            case KernelMessage.TRUNCATED ->
                cut(
                        switch (body.path("what").asText()) {
                            case "display" -> Cut.DISPLAY;
                            case "stream" -> Cut.STREAM;
                            default -> Cut.LINE;
                        },
                        message.received());
            default -> {
                // ready/done and unknown types are protocol, not events
            }
        }
    }

    private void stream(Instant at, String name, String text) {
        if (text.isEmpty() || cuts.contains(Cut.STREAM)) {
            return;
        }
        long room = maxStreamBytes - streamBytes;
        long bytes = utf8Length(text, room + 1);
        if (bytes > room) {
            appendStream(at, name, prefixWithin(text, room));
            cut(Cut.STREAM, at);
            return;
        }
        streamBytes += bytes;
        appendStream(at, name, text);
    }

    private void appendStream(Instant at, String name, String text) {
        if (text.isEmpty()) {
            return;
        }
        if (!coalesce) {
            listener.event(Event.stream(at, name, text));
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

    private void display(Instant at, JsonNode variants) {
        if (cuts.contains(Cut.DISPLAY)) {
            return;
        }
        long size = 0;
        for (JsonNode value : variants) {
            size += value.isTextual()
                    ? value.asText().length()
                    : value.toString().length();
        }
        if (displays >= maxDisplays || displayBytes + size > maxDisplayBytes) {
            cut(Cut.DISPLAY, at);
            return;
        }
        displays++;
        displayBytes += size;
        add(Event.display(at, variants));
    }

    private void cut(Cut what, Instant at) {
        if (!cuts.add(what)) {
            return;
        }
        String note = switch (what) {
            case STREAM ->
                "[output truncated: this execution printed more than " + Sizes.human(maxStreamBytes)
                        + "; the rest was dropped]";
            case DISPLAY ->
                "[display output truncated: more than " + maxDisplays + " displays or " + Sizes.human(maxDisplayBytes)
                        + " in this execution; the rest was dropped]";
            case LINE -> "[output truncated: the kernel sent more output than can be held at once]";
        };
        add(Event.stream(at, "stderr", "\n" + note + "\n"));
    }

    void add(Event event) {
        flushStream();
        listener.event(event);
    }

    private void flushStream() {
        if (streamName != null) {
            listener.event(Event.stream(streamStart, streamName, streamText.toString()));
            streamName = null;
            streamText = null;
        }
    }

    /** Passes on what is still held back; call once the execution is over. */
    void finish() {
        flushStream();
    }

    /** UTF-8 length of text, counting stops early once above limit. */
    static long utf8Length(String text, long limit) {
        long bytes = 0;
        for (int i = 0; i < text.length() && bytes <= limit; i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                bytes++;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c)
                    && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /** The longest prefix of text whose UTF-8 form fits in room bytes, never splitting a pair. */
    static String prefixWithin(String text, long room) {
        long bytes = 0;
        int i = 0;
        while (i < text.length()) {
            char c = text.charAt(i);
            int width = 1;
            long size = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                width = 2;
                size = 4;
            }
            if (bytes + size > room) {
                break;
            }
            bytes += size;
            i += width;
        }
        return text.substring(0, i);
    }
}
