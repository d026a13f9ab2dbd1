package dev.interpretersandbox.security;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.isolation.Cgroups;
import dev.interpretersandbox.isolation.RunscClient;
import io.quarkus.arc.Arc;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.Test;

/**
 * Every HTTP client is untrusted: waiting costs no thread, bodies are bounded before they are
 * read, a client that stops reading holds little and is cut off, a deleted sandbox stays
 * deleted, and JSON is read strictly. Real runsc; a short write-stall timeout.
 */
@QuarkusTest
@TestProfile(UntrustedClientIT.Profile.class)
class UntrustedClientIT {

    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandbox.state-dir", "target/sandbox-state-untrusted-client",
                    "sandbox.http.write-stall-timeout", "3s",
                    "sandbox.execute.queue-size", "8",
                    "sandbox.sandboxes.max-count", "10",
                    "sandbox.sandboxes.memory-budget", "10G");
        }
    }

    @TestHTTPResource("/")
    URL base;

    @Inject
    RunscClient runsc;

    private static String create() {
        return given().contentType(ContentType.JSON)
                .body(Map.of("limits", Map.of("memory_bytes", 256L << 20)))
                .post("/sandboxes")
                .then()
                .statusCode(201)
                .extract()
                .path("id");
    }

    private static Response execute(String id, String code, double timeout) {
        return given().contentType(ContentType.JSON)
                .body(Map.of("code", code, "timeout_secs", timeout))
                .post("/sandboxes/" + id + "/execute");
    }

    private static long millis(Runnable call) {
        long start = System.nanoTime();
        call.run();
        return (System.nanoTime() - start) / 1_000_000;
    }

    @Test
    void healthPingsAndOtherTenantsAnswerWhileEverySandboxIsBusyAndEveryQueueFull() throws Exception {
        List<String> busy = List.of(create(), create(), create());
        String other = create();
        execute(other, "print('warm')", 30).then().statusCode(200);
        List<CompletableFuture<Response>> hung = new ArrayList<>();
        int threadsBefore = Heap.threads();
        try {
            for (String id : busy) {
                for (int i = 0; i < 9; i++) { // one running and the whole queue of 8 waiting
                    hung.add(CompletableFuture.supplyAsync(() -> execute(id, "import time\ntime.sleep(60)", 90)));
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (busy.stream()
                    .anyMatch(
                            id -> !"busy".equals(given().get("/sandboxes/" + id).path("state")))) {
                assertTrue(System.nanoTime() < deadline, "the sandboxes got busy");
                Thread.sleep(100);
            }
            Thread.sleep(500); // the queues fill
            Response full = execute(busy.get(0), "print('one too many')", 30);
            assertEquals(429, full.statusCode(), full.asString());
            for (String path : List.of("/", "/q/health/live", "/q/health/ready", "/sandboxes")) {
                long took = millis(() -> given().get(path).then().statusCode(200));
                assertTrue(took < 1000, path + " took " + took + " ms");
            }
            long took = millis(() -> execute(other, "print('me')", 30).then().statusCode(200));
            assertTrue(took < 1000, "another tenant's call took " + took + " ms");
            int threads = Heap.threads() - threadsBefore;
            // 27 waiting or running calls: the test's own client threads, no service thread each.
            assertTrue(threads < 27 + 10, "threads grew by " + threads);
        } finally {
            for (String id : busy) {
                given().delete("/sandboxes/" + id).then().statusCode(204);
            }
            given().delete("/sandboxes/" + other).then().statusCode(204);
        }
        for (CompletableFuture<Response> call : hung) {
            int status = call.get(60, TimeUnit.SECONDS).statusCode();
            assertTrue(status == 200 || status == 404, "ended or refused by the delete: " + status);
        }
    }

    /**
     * Sends a raw request head (and maybe a body) and returns what came back until the server
     * closed the connection: a refusal of an unread body must close it.
     */
    private String raw(String head, byte[] body, int bodyBytes) throws Exception {
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            if (body != null) {
                out.write(body, 0, bodyBytes);
            }
            out.flush();
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void aBodyLargerThanItsEndpointTakesIsRefusedBeforeItIsRead() throws Exception {
        try (Heap heap = new Heap()) {
            for (String path : List.of("/sandboxes", "/execute", "/sandboxes/default/interrupt")) {
                String reply = raw(
                        "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                + "Content-Length: 3500000000\r\n\r\n",
                        null,
                        0);
                assertTrue(reply.startsWith("HTTP/1.1 413"), path + ": " + reply);
                assertTrue(reply.contains("{\"error\":\"the request body is larger than"), reply);
            }
            // Chunked, so its size shows only as it arrives: refused after 64 KiB, not at the end.
            byte[] chunk = ("10000\r\n" + "x".repeat(0x10000) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            byte[] body = new byte[chunk.length * 4];
            for (int i = 0; i < 4; i++) {
                System.arraycopy(chunk, 0, body, i * chunk.length, chunk.length);
            }
            String reply =
                    raw("POST /sandboxes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", body, body.length);
            assertTrue(reply.startsWith("HTTP/1.1 413"), reply);
            assertTrue(heap.growth() < 16L << 20);
        }
    }

    /**
     * MCP's extension has its bodies buffered by Quarkus, whose own limit is the global one
     * (1T, for uploads): a chunked body to /mcp must be refused once past the execute limit,
     * not held whole. It held 500 MiB, and ran a small heap out of memory.
     */
    @Test
    void aChunkedMcpBodyIsRefusedPastItsLimitNotHeldWhole() throws Exception {
        byte[] chunk = ("10000\r\n" + "x".repeat(0x10000) + "\r\n").getBytes(StandardCharsets.US_ASCII);
        try (Heap heap = new Heap();
                Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            CompletableFuture<Integer> sent = CompletableFuture.supplyAsync(() -> {
                int chunks = 0;
                try {
                    for (; chunks < 1024; chunks++) { // 64 MiB, unless the service hangs up first
                        out.write(chunk);
                    }
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (IOException e) {
                    // refused and closed: the rest is not read
                }
                return chunks;
            });
            String reply = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(reply.startsWith("HTTP/1.1 413"), reply);
            assertTrue(reply.contains("{\"error\":\"the request body is larger than"), reply);
            assertTrue(sent.get(30, TimeUnit.SECONDS) < 1024, "the service read the whole body");
            assertTrue(heap.growth() < 16L << 20, "held " + heap.growth() + " bytes");
        }
        given().get("/").then().statusCode(200);
    }

    @Test
    void aClientThatStopsReadingHoldsLittleAndIsCutOffAfterTheStallTimeout() throws Exception {
        String id = given().post("/sandboxes").then().statusCode(201).extract().path("id");
        try (Heap heap = new Heap()) {
            String code = "from IPython.display import display\n"
                    + "print('p' * (8 << 20))\n"
                    + "for i in range(3): display({'text/plain': str(i) * (10 << 20)}, raw=True)\n"
                    + "stalled = 'kept'";
            byte[] body = ("{\"code\": " + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(code)
                            + ", \"timeout_secs\": 60}")
                    .getBytes(StandardCharsets.UTF_8);
            long start = System.nanoTime();
            long received;
            try (Socket socket = new Socket(base.getHost(), base.getPort())) {
                socket.setReceiveBufferSize(64 << 10);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /sandboxes/" + id + "/execute HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                + "Content-Type: application/json\r\nContent-Length: " + body.length
                                + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                Thread.sleep(10_000); // a client that does not read: well past the 3 s stall timeout
                socket.setSoTimeout(10_000);
                received = socket.getInputStream().readAllBytes().length; // what was in flight, then the end
            }
            long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
            assertTrue(received < 30L << 20, "cut off: " + received + " of about 38 MB");
            assertTrue(seconds < 25, "closed, not kept open: " + seconds + " s");
            assertTrue(heap.growth() < 100L << 20, "held " + heap.growth() + " bytes");
        }
        Response next = execute(id, "print('free')", 30);
        assertEquals("free\n", next.jsonPath().getString("events[0].data.text"), next.asString());
        given().delete("/sandboxes/" + id).then().statusCode(204);
    }

    @Test
    void anExecuteWhoseBodyArrivesAfterTheSandboxWasDeletedNeverStartsAKernel() throws Exception {
        String id = create();
        byte[] body = "{\"code\": \"print('ghost')\"}".getBytes(StandardCharsets.UTF_8);
        String reply;
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /sandboxes/" + id + "/execute HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                            + "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body, 0, 5);
            out.flush();
            Thread.sleep(300);
            given().delete("/sandboxes/" + id).then().statusCode(204);
            out.write(body, 5, body.length - 5);
            out.flush();
            reply = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(reply.startsWith("HTTP/1.1 404"), reply);
        Thread.sleep(500);
        assertFalse(runsc.list().stream().anyMatch(c -> c.startsWith(id)), "no container of " + id);
        Path mine = Arc.container().instance(Cgroups.class).get().memoryRoot();
        try (Stream<Path> cgroups = Files.exists(mine) ? Files.walk(mine, 2) : Stream.of()) {
            assertFalse(cgroups.anyMatch(p -> p.getFileName().toString().startsWith(id)), "no cgroup of " + id);
        }
    }

    @Test
    void jsonIsReadStrictly() {
        for (String body : List.of(
                "{\"code\": \"print(1)\", \"code\": \"print(2)\"}",
                "{\"code\": \"print(1)\"} trailing",
                "{\"code\": \"print(1)\"}{\"code\": \"print(2)\"}")) {
            given().contentType(ContentType.JSON)
                    .body(body)
                    .post("/execute")
                    .then()
                    .statusCode(400)
                    .body("error", Matchers.containsString("not valid JSON"));
        }
        for (Object bad : List.of(
                Map.of("limits", Map.of("memory_bytes", 268435456.5)), Map.of("limits", Map.of("pids", 64.25)))) {
            given().contentType(ContentType.JSON)
                    .body(bad)
                    .post("/sandboxes")
                    .then()
                    .statusCode(400)
                    .body("error", Matchers.containsString("integer"));
        }
        for (String name : List.of(
                "GCONV_PATH",
                "LD_AUDIT",
                "LD_PRELOAD",
                "MALLOC_ARENA_MAX",
                "GLIBC_TUNABLES",
                "PYTHONSTARTUP",
                "LOCPATH",
                "HOSTALIASES")) {
            given().contentType(ContentType.JSON)
                    .body(Map.of("env", Map.of(name, "x")))
                    .post("/sandboxes")
                    .then()
                    .statusCode(400)
                    .body("error", Matchers.containsString("set by the sandbox"));
        }
    }

    @Test
    void downloadsAreNotSniffedAndTheHostsUsrLocalIsNotInTheSandbox() throws Exception {
        given().body("<script>alert(1)</script>".getBytes(StandardCharsets.UTF_8))
                .post("/files/upload/-/mnt/data/page-" + System.nanoTime() + ".html")
                .then()
                .statusCode(201);
        String name = given().contentType(ContentType.JSON)
                .body(Map.of(
                        "code", "import os\nprint(sorted(f for f in os.listdir('.') if f.startswith('page-'))[-1])"))
                .post("/execute")
                .jsonPath()
                .getString("events[0].data.text")
                .strip();
        given().get("/files/download/-/mnt/data/" + name)
                .then()
                .statusCode(200)
                .header("X-Content-Type-Options", "nosniff");
        assertTrue(Files.list(Path.of("/usr/local")).findAny().isPresent(), "the host has something in /usr/local");
        String inside = given().contentType(ContentType.JSON)
                .body(Map.of("code", "import os\nprint(os.listdir('/usr/local'))"))
                .post("/execute")
                .jsonPath()
                .getString("events[0].data.text");
        assertEquals("[]\n", inside);
    }
}
