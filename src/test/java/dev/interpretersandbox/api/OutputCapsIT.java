package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Output caps (defaults: 8 MiB of text, 100 displays / 32 MiB of display data per execution):
 * past them output is cut with a note, the response stays valid JSON, and the kernel and service
 * stay responsive.
 */
@QuarkusTest
class OutputCapsIT {

    /** Reads responses with displays up to the 32 MiB cap (Jackson's default stops at 20 M characters). */
    private static final ObjectMapper JSON = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
                    .maxStringLength(64 << 20)
                    .build())
            .build());

    private static final int MAX_STREAM = 8 << 20;

    /** Executes and reads the raw body as strict UTF-8 JSON: invalid bytes would fail here. */
    static JsonNode execute(String code) throws Exception {
        byte[] body = given().contentType(ContentType.JSON)
                .body(Map.of("code", code, "timeout_secs", 110))
                .post("/execute")
                .then()
                .statusCode(200)
                .extract()
                .asByteArray();
        StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(body));
        return JSON.readTree(body);
    }

    static String text(JsonNode result, String name) {
        StringBuilder out = new StringBuilder();
        for (JsonNode event : result.path("events")) {
            if (event.path("type").asText().equals("stream")
                    && event.path("data").path("name").asText().equals(name)) {
                out.append(event.path("data").path("text").asText());
            }
        }
        return out.toString();
    }

    static List<JsonNode> displays(JsonNode result) {
        List<JsonNode> out = new ArrayList<>();
        result.path("events").forEach(e -> {
            if (e.path("type").asText().equals("display_data")) {
                out.add(e.path("data").path("variants"));
            }
        });
        return out;
    }

    @AfterEach
    void stillResponsive() {
        assertEquals("2", Api.run("print(1 + 1)"));
        given().get("/").then().statusCode(200);
    }

    @Test
    void aGigabytePrintLoopIsCutAtTheCap() throws Exception {
        JsonNode result = execute("for _ in range(1024):\n    print('x' * (1 << 20))\nprint('loop done')");
        assertEquals("ok", result.path("status").asText());
        assertEquals(MAX_STREAM, text(result, "stdout").length());
        assertTrue(text(result, "stderr").contains("[output truncated: this execution printed more than 8 MiB"));
    }

    @Test
    void aHundredMegabyteLineWithoutNewlineIsCut() throws Exception {
        JsonNode result = execute("import sys\nsys.stdout.write('y' * 100_000_000)\nNone");
        assertEquals(MAX_STREAM, text(result, "stdout").length());
        assertTrue(text(result, "stderr").contains("output truncated"));
    }

    @Test
    void theCapCountsBytesNotCharacters() throws Exception {
        JsonNode result = execute("print('\u00e9' * (5 << 20))"); // 2 bytes each: 10 MiB
        String out = text(result, "stdout");
        assertEquals(MAX_STREAM, out.getBytes(StandardCharsets.UTF_8).length);
        assertTrue(out.chars().allMatch(c -> c == '\u00e9'));
    }

    @Test
    void invalidUtf8AndNulBytesStayValidJson() throws Exception {
        JsonNode result = execute("import os, sys\nos.write(1, b'\\xff\\xfe\\x00raw\\n')\n"
                + "print('nul\\x00 lone\\udcff')\nsys.stderr.buffer.write(b'\\xc3(\\n')\nraise ValueError('\\ud800')");
        assertEquals("\ufffd\ufffd\u0000raw\nnul\u0000 lone\ufffd\n", text(result, "stdout"));
        assertEquals("\ufffd(\n", text(result, "stderr"));
        JsonNode error =
                result.path("events").get(result.path("events").size() - 1).path("data");
        assertEquals("\ufffd", error.path("evalue").asText());
    }

    @Test
    void displaysPastTheCountAreDroppedWithANote() throws Exception {
        JsonNode result = execute("from IPython.display import display\nfor i in range(150): display(i)");
        List<JsonNode> shown = displays(result);
        assertEquals(100, shown.size());
        assertEquals("99", shown.get(99).path("text/plain").asText());
        assertTrue(text(result, "stderr").contains("[display output truncated: more than 100 displays or 32 MiB"));
    }

    @Test
    void aDisplayOfTwentyFiveMillionCharactersArrivesWhole() throws Exception {
        // Past Jackson's default string limit (20 M characters), within the 32 MiB display cap.
        JsonNode result = execute(
                "from IPython.display import display\n" + "display({'text/plain': 'q' * 25_000_000}, raw=True)");
        List<JsonNode> shown = displays(result);
        assertEquals(1, shown.size(), "the display is not silently dropped");
        assertEquals(25_000_000, shown.get(0).path("text/plain").asText().length());
    }

    @Test
    void aDisplayLargerThanTheCapIsDropped() throws Exception {
        JsonNode result = execute("from IPython.display import display\n"
                + "display({'text/plain': 'z' * (40 << 20)}, raw=True)\ndisplay('small')");
        assertTrue(displays(result).isEmpty(), "nothing after the cut either");
        assertTrue(text(result, "stderr").contains("display output truncated"));
    }

    /** fd 4 is the driver's copy of its stdout: user code shares the driver's process and can write protocol lines itself. */
    static final String PUT = "import os, json\n"
            + "print('the cell runs', flush=True)\n" // the driver's start message is out: what follows is this cell's
            + "assert os.readlink('/proc/self/fd/4').startswith(('pipe:', 'host:'))\n"
            + "def put(line):\n"
            + "    view = memoryview(line)\n"
            + "    while view:\n"
            + "        view = view[os.write(4, view):]\n";

    @Test
    void codeWritingStraightToTheProtocolPipeIsCappedByTheServiceToo() throws Exception {
        JsonNode result = execute(
                PUT
                        + "for _ in range(3):\n"
                        + "    put(json.dumps({'type': 'stream', 'name': 'stdout', 'text': 'v' * (5 << 20)}).encode() + b'\\n')\n");
        assertEquals("ok", result.path("status").asText());
        String out = text(result, "stdout");
        assertEquals(MAX_STREAM, out.length());
        assertTrue(out.startsWith("the cell runs\n"), out.substring(0, 40));
        assertTrue(out.substring("the cell runs\n".length()).chars().allMatch(c -> c == 'v'));
        assertTrue(text(result, "stderr").contains("printed more than 8 MiB"));
    }

    @Test
    void aProtocolLineLongerThanAnyTheDriverSendsRestartsTheKernel() throws Exception {
        JsonNode result = execute(
                PUT
                        + "put(b'{\"type\": \"stream\", \"name\": \"stdout\", \"text\": \"' + b'w' * (100 << 20) + b'\"}\\n')\n");
        assertEquals("error", result.path("status").asText());
        JsonNode error =
                result.path("events").get(result.path("events").size() - 1).path("data");
        assertEquals("KernelDied", error.path("ename").asText());
        assertTrue(
                error.path("evalue").asText().contains("broke the driver protocol: it sent a line longer than"),
                error.toString());
    }
}
