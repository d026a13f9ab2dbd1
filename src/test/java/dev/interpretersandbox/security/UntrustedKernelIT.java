package dev.interpretersandbox.security;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Code in a sandbox is untrusted, and shares the kernel driver's process: it can write anything
 * to any of the driver's file descriptors. Each attack here was seen to stall or kill the service
 * before; now every byte from a sandbox is bounded before it reaches the heap or the disk, and
 * a kernel that breaks the protocol is restarted with a notice. Real runsc, small output caps, so
 * the bounds show at tens of MB.
 */
@QuarkusTest
@TestProfile(UntrustedKernelIT.Profile.class)
class UntrustedKernelIT {

    static final String STATE = "target/sandbox-state-untrusted-kernel";

    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandbox.state-dir", STATE,
                    "sandbox.output.max-stream-bytes", "1M",
                    "sandbox.output.max-display-bytes", "1M",
                    "sandbox.output.max-error-bytes", "256K");
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Writes whole lines to the driver's protocol fd (4) or its stderr (5), as user code can. */
    private static final String PUT = "import os, json, threading\n"
            + "print('the cell runs', flush=True)\n" // the driver's start message is out: what follows is this cell's
            + "def put(fd, line):\n"
            + "    view = memoryview(line)\n"
            + "    while view:\n"
            + "        view = view[os.write(fd, view):]\n";

    static JsonNode execute(String code, double timeout) throws Exception {
        return JSON.readTree(given().contentType(ContentType.JSON)
                .body(Map.of("code", code, "timeout_secs", timeout))
                .post("/execute")
                .then()
                .statusCode(200)
                .extract()
                .asString());
    }

    static JsonNode lastError(JsonNode result) {
        JsonNode last = null;
        for (JsonNode event : result.path("events")) {
            if (event.path("type").asText().equals("error")) {
                last = event.path("data");
            }
        }
        return last;
    }

    @AfterEach
    void theServiceStillAnswers() throws Exception {
        assertEquals("ok", execute("print('alive')", 30).path("status").asText());
        given().get("/q/health/live").then().statusCode(200);
    }

    @Test
    void floodingTheKernelsStderrFillsNoHostFileAndNoHeap() throws Exception {
        try (Heap heap = new Heap()) {
            // 64 MiB to the driver's stderr (which runsc passes to the service), then a death whose
            // cause the service reads from that log's tail.
            JsonNode result = execute(
                    PUT + "line = b'a' * 65535 + b'\\n'\nfor _ in range(1024): put(5, line)\n"
                            + "put(5, b'\\x1b[31mlast words\\n')\nos._exit(1)",
                    60);
            assertEquals("error", result.path("status").asText());
            String cause = lastError(result).path("evalue").asText();
            assertTrue(cause.contains("exited with code 1"), cause);
            assertTrue(cause.contains("last words"), "the tail of the log is still told: " + cause);
            assertTrue(cause.contains("\\u001b"), "control characters escaped: " + cause);
            assertTrue(heap.growth() < 32L << 20, "the heap held " + heap.growth() + " bytes more");
        }
        try (Stream<Path> files = Files.walk(Path.of(STATE))) {
            List<Path> big = files.filter(Files::isRegularFile)
                    .filter(f -> !f.toString().contains("/workspace/")
                            && !f.toString().contains("/runtime/"))
                    .filter(f -> f.toFile().length() > 1 << 20)
                    .toList();
            assertEquals(List.of(), big, "no host file grew with what the kernel wrote");
        }
    }

    @Test
    void unknownMessageTypesFromABackgroundThreadAreDroppedNotHeld() throws Exception {
        double before = dropped("unknown_type");
        try (Heap heap = new Heap()) {
            // 24 MiB of lines of a type the protocol does not have, between executions. (A thread
            // that wrote while the driver writes splices lines: that is a broken protocol too.)
            execute(
                    PUT + "line = json.dumps({'type': 'zzz', 'x': 'y' * (1 << 20)}).encode() + b'\\n'\n"
                            + "def flood():\n"
                            + "    import time; time.sleep(0.5)\n"
                            + "    [put(4, line) for _ in range(24)]\n"
                            + "    open('flood-done', 'w').close()\n"
                            + "threading.Thread(target=flood).start()",
                    30);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (given().get("/files/download/-/mnt/data/flood-done").statusCode() != 200) {
                assertTrue(System.nanoTime() < deadline, "the flood ended");
                Thread.sleep(100);
            }
            assertEquals(
                    "ok",
                    execute("import os\nos.remove('flood-done')", 30)
                            .path("status")
                            .asText());
            assertTrue(heap.growth() < 32L << 20, "the heap held " + heap.growth() + " bytes more");
        }
        assertEquals(24, dropped("unknown_type") - before, 0.5, "dropped and counted");
    }

    @Test
    void moreThanTheDriverCouldSendForOneRequestRestartsTheKernel() throws Exception {
        // Caps of 1 MiB + 1 MiB + 256 KiB allow 6 x 2.25 MiB + 16 MiB per request, escaped.
        JsonNode result = execute(
                PUT + "line = json.dumps({'type': 'zzz', 'x': 'y' * (1 << 20)}).encode() + b'\\n'\n"
                        + "for _ in range(64): put(4, line)\nimport time\ntime.sleep(30)",
                60);
        assertEquals("error", result.path("status").asText());
        JsonNode error = lastError(result);
        assertEquals("KernelDied", error.path("ename").asText());
        assertTrue(error.path("evalue").asText().contains("broke the driver protocol"), error.toString());
        assertTrue(metric("sandbox_kernel_restarts_total{cause=\"protocol\"}") >= 1, "counted as a protocol violation");
    }

    @Test
    void errorLinesCountAgainstTheirOwnBudget() throws Exception {
        long bytes = given().contentType(ContentType.JSON)
                .body(Map.of(
                        "code",
                        PUT + "for _ in range(200):\n"
                                + "    put(4, json.dumps({'type': 'error', 'ename': 'E', 'evalue': 'v' * (100 << 10),"
                                + " 'traceback': []}).encode() + b'\\n')\n",
                        "timeout_secs",
                        60))
                .post("/execute")
                .then()
                .statusCode(200)
                .extract()
                .asByteArray()
                .length;
        assertTrue(bytes < 1 << 20, "200 x 100 KiB of errors became a response of " + bytes + " bytes");
    }

    @Test
    void forgedDoneLinesNeverEndACallEarlyNorLeakItsOutputIntoTheNext() throws Exception {
        long start = System.nanoTime();
        JsonNode result = execute(
                PUT + "for n in ['0' * 32, 'f' * 32] + list(range(1, 200)):\n"
                        + "    put(4, json.dumps({'type': 'done', 'id': n}).encode() + b'\\n')\n"
                        + "import time\ntime.sleep(3)\nprint('after the sleep')",
                5);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertFalse("ok".equals(result.path("status").asText()), "a forged done is not the end: " + result);
        assertEquals("KernelDied", lastError(result).path("ename").asText());
        assertTrue(lastError(result).path("evalue").asText().contains("forged request id"), result.toString());
        JsonNode next = execute("print('next')", 30);
        assertEquals("next\n", next.at("/events/0/data/text").asText(), "nothing of the old cell: " + next);
        assertTrue(millis < 5000, "ended at once: " + millis + " ms");
    }

    @Test
    void aForgedStartedOrDoneBetweenExecutionsIsNoOnesOutput() throws Exception {
        execute(
                PUT + "def later():\n    import time; time.sleep(0.5)\n"
                        + "    put(4, json.dumps({'type': 'stream', 'name': 'stdout', 'text': 'stale'}).encode() + b'\\n')\n"
                        + "threading.Thread(target=later).start()",
                30);
        Thread.sleep(1000);
        JsonNode next = execute("print('fresh')", 30);
        assertEquals("fresh\n", next.at("/events/0/data/text").asText(), next.toString());
    }

    @Test
    void floodsDoNotStallOtherTenants() throws Exception {
        String other =
                given().post("/sandboxes").then().statusCode(201).extract().path("id");
        try {
            given().contentType(ContentType.JSON)
                    .body(Map.of("code", "print(1)"))
                    .post("/sandboxes/" + other + "/execute")
                    .then()
                    .statusCode(200);
            CompletableFuture<JsonNode> attack = CompletableFuture.supplyAsync(() -> {
                try {
                    return execute(PUT + "line = b'a' * 65535 + b'\\n'\nfor _ in range(4096): put(5, line)", 60);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            for (int i = 0; i < 5; i++) {
                long start = System.nanoTime();
                given().contentType(ContentType.JSON)
                        .body(Map.of("code", "print(2)"))
                        .post("/sandboxes/" + other + "/execute")
                        .then()
                        .statusCode(200);
                given().get("/q/health/live").then().statusCode(200);
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis < 1000, "another tenant's call and liveness took " + millis + " ms");
            }
            attack.get(90, TimeUnit.SECONDS);
        } finally {
            given().delete("/sandboxes/" + other).then().statusCode(204);
        }
    }

    static double dropped(String why) {
        return metric("sandbox_kernel_protocol_dropped_total{why=\"" + why + "\"}");
    }

    static double metric(String series) {
        String metrics =
                given().get("/q/metrics").then().statusCode(200).extract().asString();
        for (String line : metrics.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).strip());
            }
        }
        return 0;
    }

    static Duration seconds(double s) {
        return Duration.ofMillis((long) (s * 1000));
    }
}
