package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;

/** One event of an execution, as the API shows it: a type, an RFC 3339 timestamp, and data. */
public record Event(String type, Instant timestamp, Object data) {

    public static final String STREAM = "stream";
    public static final String DISPLAY = "display_data";
    public static final String ERROR = "error";
    public static final String FILE = "file";

    public record Stream(String name, String text) {}

    /**
     * A MIME bundle. main (the cell's value) and chart (a figure's data) are for the E2B API only:
     * the seed API shows variants alone.
     */
    public record Display(
            JsonNode variants,
            @JsonIgnore boolean main,
            @JsonIgnore JsonNode chart) {}

    public record Error(String ename, String evalue, List<String> traceback) {}

    public record File(String path, long size) {}

    public static Event stream(Instant at, String name, String text) {
        return new Event(STREAM, at, new Stream(name, text));
    }

    public static Event display(Instant at, JsonNode variants) {
        return display(at, variants, false, null);
    }

    public static Event display(Instant at, JsonNode variants, boolean main, JsonNode chart) {
        return new Event(DISPLAY, at, new Display(variants, main, chart));
    }

    public static Event error(Instant at, String ename, String evalue, List<String> traceback) {
        return new Event(ERROR, at, new Error(ename, evalue, traceback));
    }

    public static Event file(Instant at, String path, long size) {
        return new Event(FILE, at, new File(path, size));
    }
}
