package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@QuarkusTest
class ExecuteIT {

    @Test
    void printIsExactlyOneStreamEventWithATimestamp() {
        JsonPath result = Api.execute("print('hello')");
        assertEquals("ok", result.getString("status"));
        List<Map<String, Object>> events = result.getList("events");
        assertEquals(1, events.size(), result.prettify());
        assertEquals("stream", events.get(0).get("type"));
        assertEquals(Map.of("name", "stdout", "text", "hello\n"), events.get(0).get("data"));
        Instant stamp = Instant.parse((String) events.get(0).get("timestamp"));
        assertTrue(stamp.isAfter(Instant.now().minusSeconds(60)) && !stamp.isAfter(Instant.now()));
    }

    @Test
    void manyPrintsAndSubprocessOutputAreCoalescedInOrder() {
        JsonPath result =
                Api.execute("import os\nfor i in range(3): print(i)\nos.system('echo from-shell')\nprint('end')");
        List<Map<String, Object>> streams = Api.events(result, "stream");
        assertEquals(1, streams.size(), result.prettify());
        assertEquals("0\n1\n2\nfrom-shell\nend\n", streams.get(0).get("text"));
    }

    @Test
    void stderrIsItsOwnStream() {
        JsonPath result = Api.execute("import sys\nprint('out')\nprint('err', file=sys.stderr)\nprint('out2')");
        List<Map<String, Object>> streams = Api.events(result, "stream");
        assertEquals(
                List.of(
                        Map.of("name", "stdout", "text", "out\n"),
                        Map.of("name", "stderr", "text", "err\n"),
                        Map.of("name", "stdout", "text", "out2\n")),
                streams);
    }

    @Test
    void stateSurvivesBetweenCalls() {
        String name = "v_" + UUID.randomUUID().toString().replace("-", "");
        Api.run(name + " = 41");
        assertEquals("42", Api.run("print(" + name + " + 1)"));
    }

    @Test
    void cellValueIsDisplayData() {
        JsonPath result = Api.execute("6 * 7");
        List<Map<String, Object>> displays = Api.events(result, "display_data");
        assertEquals(1, displays.size());
        assertEquals(Map.of("text/plain", "42"), displays.get(0).get("variants"));
        assertTrue(Api.events(Api.execute("6 * 7;"), "display_data").isEmpty(), "a trailing ; hides the value");
    }

    @Test
    void errorsCarryNameValueAndColouredTraceback() {
        JsonPath result = Api.execute("print('before')\n1/0");
        assertEquals("ok", result.getString("status"));
        assertEquals("before\n", Api.stdout(result));
        List<Map<String, Object>> errors = Api.events(result, "error");
        assertEquals(1, errors.size());
        assertEquals("ZeroDivisionError", errors.get(0).get("ename"));
        assertEquals("division by zero", errors.get(0).get("evalue"));
        @SuppressWarnings("unchecked")
        List<String> traceback = (List<String>) errors.get(0).get("traceback");
        assertTrue(traceback.stream().anyMatch(l -> l.contains("\u001b[0;31m")), "ANSI colours: " + traceback);
        String plain = String.join("\n", traceback).replaceAll("\u001b\\[[0-9;]*m", "");
        assertTrue(plain.contains("----> 2 1/0"), plain);
    }

    @Test
    void syntaxErrorsAreErrorEvents() {
        List<Map<String, Object>> errors = Api.events(Api.execute("def f(:"), "error");
        assertEquals("SyntaxError", errors.get(0).get("ename"));
    }

    @Test
    void matplotlibShowIsOnePngDisplay() {
        JsonPath result = Api.execute("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()", 60.0);
        List<Map<String, Object>> displays = Api.events(result, "display_data");
        assertEquals(1, displays.size(), result.prettify());
        @SuppressWarnings("unchecked")
        Map<String, String> variants = (Map<String, String>) displays.get(0).get("variants");
        assertTrue(variants.get("text/plain").startsWith("<Figure"), variants.get("text/plain"));
        byte[] png = Base64.getDecoder().decode(variants.get("image/png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals("PNG", new String(png, 1, 3));
    }

    @Test
    void pilImagesDisplayAsPng() {
        JsonPath result = Api.execute("from PIL import Image\ndisplay(Image.new('RGB', (4, 4), 'red'))");
        @SuppressWarnings("unchecked")
        Map<String, String> variants =
                (Map<String, String>) Api.events(result, "display_data").get(0).get("variants");
        assertTrue(variants.containsKey("image/png"), variants.keySet().toString());
    }

    @Test
    void inputRaisesAClearErrorInsteadOfHanging() {
        JsonPath result = Api.execute("input('name? ')", 10.0);
        assertEquals("ok", result.getString("status"));
        Map<String, Object> error = Api.events(result, "error").get(0);
        assertEquals("StdinNotImplementedError", error.get("ename"));
        assertTrue(((String) error.get("evalue")).contains("input() is not available"));
    }

    @Test
    void unicodeAndInvalidUtf8OutputStayValidJson() {
        JsonPath result = Api.execute("import os\nprint('héllo ✓ 计算')\nos.write(1, b'bad \\xff\\xfe bytes\\n')");
        String out = Api.stdout(result);
        assertTrue(out.startsWith("héllo ✓ 计算\n"), out);
        assertTrue(out.contains("bad \uFFFD\uFFFD bytes"), out);
    }

    @Test
    void filesWrittenByCodeAreFileEvents() {
        String dir = "ev-" + UUID.randomUUID();
        JsonPath result = Api.execute("import os\nos.makedirs('" + dir + "')\n"
                + "open('" + dir + "/out.txt', 'w').write('x' * 128)\n"
                + "open('/tmp/not-reported.txt', 'w').write('y')");
        List<Map<String, Object>> files = Api.events(result, "file");
        assertEquals(List.of(Map.of("path", dir + "/out.txt", "size", 128)), files);
        // unchanged files are not reported again; modified ones are
        assertTrue(Api.events(Api.execute("1"), "file").isEmpty());
        List<Map<String, Object>> again =
                Api.events(Api.execute("open('" + dir + "/out.txt', 'a').write('z')"), "file");
        assertEquals(List.of(Map.of("path", dir + "/out.txt", "size", 129)), again);
    }

    @Test
    void workingDirectoryAndHomeAreTheWorkspace() {
        assertEquals("/mnt/data /mnt/data", Api.run("import os\nprint(os.getcwd(), os.path.expanduser('~'))"));
    }

    @Test
    void emptyCodeIsOk() {
        JsonPath result = Api.execute("");
        assertEquals("ok", result.getString("status"));
        assertFalse(result.getList("events").stream()
                .anyMatch(e -> ((Map<?, ?>) e).get("type").equals("error")));
    }
}
