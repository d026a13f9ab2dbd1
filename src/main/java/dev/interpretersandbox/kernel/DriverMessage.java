package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;

/**
 * One line from the kernel driver, parsed and checked once (by {@link KernelChannel}), plus the two
 * things the channel itself reports: the end of the stream and a broken protocol. Each carries the
 * time the service received it and its size on the wire.
 */
public sealed interface DriverMessage {

    Instant at();

    /** The driver is up (sent once, after start). */
    record Ready(Instant at, String python, String ipython) implements DriverMessage {}

    /** The driver began the execute request with this id; output before it belongs to no one. */
    record Started(Instant at, String id) implements DriverMessage {}

    /** The driver finished the request with this id. */
    record Done(Instant at, String id) implements DriverMessage {}

    /** Output of an execution: what {@code OutputGuard} turns into events. */
    sealed interface Output extends DriverMessage {}

    record Stream(Instant at, StreamName name, String text) implements Output {}

    /** A MIME bundle; size counts its values as sent (characters of text, JSON of the rest). */
    /**
     * A MIME bundle; main when it is the cell's value (not a display() call); chart, when a
     * matplotlib figure showed one, its data (null otherwise).
     */
    record Display(Instant at, JsonNode variants, long size, boolean main, JsonNode chart) implements Output {}

    record Error(Instant at, String ename, String evalue, List<String> traceback) implements Output {
        /** Characters of all its text. */
        public long size() {
            long size = ename.length() + evalue.length();
            for (String line : traceback) {
                size += line.length();
            }
            return size;
        }
    }

    /** The driver cut output at a limit. */
    record Truncated(Instant at, Cut what) implements Output {}

    /** A line of a type the protocol does not have: dropped and counted, never an event. */
    record Unknown(Instant at, String type) implements DriverMessage {}

    /** The kernel's stdout closed: it died or was torn down. */
    record Closed(Instant at) implements DriverMessage {}

    /** The kernel broke the protocol (see {@link KernelChannel}); the channel stopped reading. */
    record Violation(Instant at, String reason) implements DriverMessage {}

    enum StreamName {
        STDOUT,
        STDERR;

        public String wire() {
            return this == STDOUT ? "stdout" : "stderr";
        }
    }

    /** What a cut applies to. */
    enum Cut {
        STREAM,
        DISPLAY
    }
}
