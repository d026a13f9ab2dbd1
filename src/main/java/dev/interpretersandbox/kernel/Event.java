package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;

/** One event of an execution, as SANDBOX.md shows it: a type, an RFC 3339 timestamp, and data. */
public record Event(String type, Instant timestamp, Object data) {

    public record Stream(String name, String text) {}

    public record Display(JsonNode variants) {}

    public record Error(String ename, String evalue, List<String> traceback) {}

    public record File(String path, long size) {}

    public static Event stream(Instant at, String name, String text) {
        return new Event("stream", at, new Stream(name, text));
    }

    public static Event display(Instant at, JsonNode variants) {
        return new Event("display_data", at, new Display(variants));
    }

    public static Event error(Instant at, String ename, String evalue, List<String> traceback) {
        return new Event("error", at, new Error(ename, evalue, traceback));
    }

    public static Event file(Instant at, String path, long size) {
        return new Event("file", at, new File(path, size));
    }
}
