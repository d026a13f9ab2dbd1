package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.kernel.DriverMessage;
import dev.interpretersandbox.kernel.OutputBudget;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Turns driver output into API events for one execution and enforces its output caps. The driver
 * cuts output at the same caps, but it shares a process with user code, so the caps are enforced
 * here again: text of stdout and stderr, number and size of displays, and the text of error
 * events each have a budget. Past a cap, output is dropped and one stderr note per kind says so.
 *
 * <p>With {@code coalesce}, consecutive output of the same stream becomes one event (stamped when
 * its first part arrived) and is passed on when something else comes or at {@link #finish};
 * without it (streaming), each piece is passed on as it arrives. Not thread-safe: its execution
 * calls it under its own lock.
 */
final class OutputGuard {

    private enum Cut {
        STREAM,
        DISPLAY,
        ERROR
    }

    private final Consumer<Event> events;
    private final boolean coalesce;
    private final OutputBudget budget;
    private final Set<Cut> cuts = EnumSet.noneOf(Cut.class);
    private long streamBytes;
    private long displayBytes;
    private long errorChars;
    private int displays;
    private String streamName;
    private StringBuilder streamText;
    private Instant streamStart;

    OutputGuard(OutputBudget budget, Consumer<Event> events, boolean coalesce) {
        this.budget = budget;
        this.events = events;
        this.coalesce = coalesce;
    }

    void accept(DriverMessage.Output output) {
        if (output instanceof DriverMessage.Stream stream) {
            stream(stream.at(), stream.name().wire(), stream.text());
        } else if (output instanceof DriverMessage.Display display) {
            display(display);
        } else if (output instanceof DriverMessage.Error error) {
            error(error);
        } else if (output instanceof DriverMessage.Truncated truncated) {
            cut(truncated.what() == DriverMessage.Cut.DISPLAY ? Cut.DISPLAY : Cut.STREAM, truncated.at());
        }
    }

    private void stream(Instant at, String name, String text) {
        if (text.isEmpty() || cuts.contains(Cut.STREAM)) {
            return;
        }
        long room = budget.streamBytes() - streamBytes;
        long bytes = utf8Length(text, room + 1);
        if (bytes > room) {
            appendStream(at, name, prefixWithin(text, room));
            streamBytes = budget.streamBytes();
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
            events.accept(Event.stream(at, name, text));
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

    private void display(DriverMessage.Display display) {
        if (cuts.contains(Cut.DISPLAY)) {
            return;
        }
        if (displays >= budget.displays() || displayBytes + display.size() > budget.displayBytes()) {
            cut(Cut.DISPLAY, display.at());
            return;
        }
        displays++;
        displayBytes += display.size();
        add(Event.display(display.at(), display.variants(), display.main(), display.chart()));
    }

    /** An error event counts against its own budget: a cell that printed its fill still reports its exception. */
    private void error(DriverMessage.Error error) {
        if (cuts.contains(Cut.ERROR)) {
            return;
        }
        if (errorChars + error.size() > budget.errorBytes()) {
            cut(Cut.ERROR, error.at());
            return;
        }
        errorChars += error.size();
        add(Event.error(error.at(), error.ename(), error.evalue(), error.traceback()));
    }

    private void cut(Cut what, Instant at) {
        if (!cuts.add(what)) {
            return;
        }
        String note = switch (what) {
            case STREAM ->
                "[output truncated: this execution printed more than " + Sizes.human(budget.streamBytes())
                        + "; the rest was dropped]";
            case DISPLAY ->
                "[display output truncated: more than " + budget.displays() + " displays or "
                        + Sizes.human(budget.displayBytes()) + " in this execution; the rest was dropped]";
            case ERROR ->
                "[error output truncated: the errors of this execution took more than "
                        + Sizes.human(budget.errorBytes()) + "; the rest were dropped]";
        };
        add(Event.stream(at, "stderr", "\n" + note + "\n"));
    }

    /** Passes on an event of the service's own (a notice), after what is held back. */
    void add(Event event) {
        flushStream();
        events.accept(event);
    }

    private void flushStream() {
        if (streamName != null) {
            events.accept(Event.stream(streamStart, streamName, streamText.toString()));
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
