package dev.interpretersandbox.cluster;

import static dev.interpretersandbox.support.ServiceProcess.json;
import static dev.interpretersandbox.support.ServiceProcess.stdout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.support.ServiceProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Fleet mode with three instances of the packaged service on loopback, named by their ports
 * (peer-url http://127.0.0.1:{instance}): any instance serves any sandbox, with real runsc.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<ServiceProcess> fleet = new ArrayList<>();
    private static final List<Path> states = new ArrayList<>();
    private static ServiceProcess a;
    private static ServiceProcess b;
    private static ServiceProcess c;

    @BeforeAll
    static void startFleet() throws Exception {
        List<Integer> ports = List.of(ServiceProcess.freePort(), ServiceProcess.freePort(), ServiceProcess.freePort());
        String peers = ports.get(0) + "," + ports.get(1) + "," + ports.get(2);
        List<CompletableFuture<ServiceProcess>> starting = new ArrayList<>();
        for (int port : ports) {
            Path state = Files.createTempDirectory(Path.of("/var/tmp"), "fleet-it-");
            states.add(state);
            Map<String, String> settings = new HashMap<>();
            settings.put("QUARKUS_HTTP_PORT", Integer.toString(port));
            settings.put("SANDBOX_CLUSTER_INSTANCE", Integer.toString(port));
            settings.put("SANDBOX_CLUSTER_PEER_URL", "http://127.0.0.1:{instance}");
            settings.put("SANDBOX_CLUSTER_PEERS", peers);
            settings.put("SANDBOX_CLUSTER_DEFAULT_INSTANCE", Integer.toString(ports.get(0)));
            settings.put("SANDBOX_SANDBOXES_MAX_COUNT", "3");
            starting.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return ServiceProcess.start(state, settings);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (CompletableFuture<ServiceProcess> service : starting) {
            fleet.add(service.join());
        }
        a = fleet.get(0);
        b = fleet.get(1);
        c = fleet.get(2);
    }

    @AfterAll
    static void stopFleet() {
        fleet.forEach(ServiceProcess::close);
        states.forEach(Trees::delete);
    }

    private static String name(ServiceProcess service) {
        return Integer.toString(service.port());
    }

    private static String create(ServiceProcess via) {
        HttpResponse<String> created = via.post("/sandboxes", "{}");
        assertEquals(201, created.statusCode(), created.body());
        return json(created).path("id").asText();
    }

    private static HttpResponse<String> send(ServiceProcess via, String method, String path, String body) {
        return via.send(HttpRequest.newBuilder(URI.create(via.url(path)))
                .method(
                        method,
                        body == null
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofString(body)));
    }

    @Test
    @Order(1)
    void everyRouteOfASandboxReachesTheSameSandboxThroughEveryInstance() throws Exception {
        String id = create(a);
        assertTrue(id.endsWith("." + name(a)), "the id names its owner: " + id);
        String prefix = "/sandboxes/" + id;

        assertEquals("ok", b.execute(prefix, "x = 41").path("status").asText());
        String ndjson = streamed(c, prefix, "application/x-ndjson", "print(x + 1)");
        assertTrue(ndjson.contains("\"text\":\"42\\n\"") && ndjson.contains("\"status\":\"ok\""), ndjson);
        String sse = streamed(b, prefix, "text/event-stream", "print(x)");
        assertTrue(sse.contains("event: stream") && sse.contains("41") && sse.contains("event: done"), sse);

        // Larger than a JSON body may be (64 KiB), with a Content-Length: the id's dot must not
        // keep the upload path from being known for one.
        String csv = "a,b\n" + "1,2\n".repeat(200_000);
        HttpResponse<String> uploaded =
                c.send(HttpRequest.newBuilder(URI.create(c.url(prefix + "/files/upload/-/mnt/data/a.csv")))
                        .POST(HttpRequest.BodyPublishers.ofString(csv)));
        assertEquals(201, uploaded.statusCode(), uploaded.body());
        HttpResponse<String> downloaded = b.get(prefix + "/files/download/-/mnt/data/a.csv");
        assertEquals(200, downloaded.statusCode());
        assertEquals(csv, downloaded.body());
        assertEquals(
                "text/csv",
                downloaded.headers().firstValue("Content-Type").orElse("").split(";")[0]);
        assertEquals(
                "nosniff",
                downloaded.headers().firstValue("X-Content-Type-Options").orElse(""));

        assertEquals("idle", json(c.get(prefix)).path("state").asText());
        assertEquals(
                "false",
                json(send(b, "POST", prefix + "/interrupt", null))
                        .path("interrupted")
                        .asText());
        assertEquals(200, send(c, "POST", prefix + "/restart", null).statusCode());
        assertEquals("False\n", stdout(a.execute(prefix, "print('x' in dir())")), "restarted: x is gone");
        assertEquals(204, send(b, "DELETE", prefix, null).statusCode());
        assertEquals(404, c.get(prefix).statusCode());
        assertEquals(404, a.get(prefix).statusCode());
    }

    @Test
    @Order(2)
    void theSeedApiIsTheDefaultInstancesSandboxFromAnyInstance() {
        assertEquals("ok", b.execute("", "seed = 'shared'").path("status").asText());
        assertEquals("shared\n", stdout(c.execute("", "print(seed)")));
        assertEquals("shared\n", stdout(a.execute("", "print(seed)")));
        String kernel = json(a.get("/")).path("kernel").asText();
        assertEquals(kernel, json(c.get("/")).path("kernel").asText(), "one default sandbox");
    }

    @Test
    @Order(3)
    void aStreamAndAHangUpPassThroughThePeer() throws Exception {
        String id = create(a);
        String prefix = "/sandboxes/" + id;
        assertEquals(
                "ok", a.execute(prefix, "import time\nstep = 0").path("status").asText());
        String body = JSON.writeValueAsString(
                Map.of("code", "print('first', flush=True)\nstep = 1\ntime.sleep(30)\nstep = 2"));
        long start = System.nanoTime();
        try (Socket socket = new Socket("127.0.0.1", b.port())) {
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + prefix + "/execute HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n"
                            + "Content-Type: application/json\r\nContent-Length: "
                            + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader reader =
                    new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = reader.readLine()) != null && !line.contains("first")) {
                // headers and chunk sizes
            }
            assertTrue(line != null, "the first line came through the peer while the cell ran");
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(10).toNanos());
        } // the client hangs up here, mid-cell
        long hungUp = System.nanoTime();
        JsonNode after = a.execute(prefix, "print(step)");
        assertEquals("1\n", stdout(after), "interrupted at the hang-up, state kept: " + after);
        assertTrue(System.nanoTime() - hungUp < Duration.ofSeconds(15).toNanos(), "not after the 30 s sleep");
        assertEquals(204, send(a, "DELETE", prefix, null).statusCode());
    }

    @Test
    @Order(4)
    void forgedIdsAreNeverForwarded() {
        assertEquals(404, b.get("/sandboxes/sb-0123456789abcdef.evil").statusCode());
        assertEquals(404, b.get("/sandboxes/sb-0123456789abcdef.99999").statusCode(), "a label, not a peer");
        assertEquals(400, b.get("/sandboxes/sb-0123456789abcdef.127.0.0.1").statusCode(), "not an id");
        assertEquals(404, b.get("/sandboxes?instance=evil").statusCode());
        assertEquals(
                404,
                b.post("/sandboxes/sb-0123456789abcdef." + name(c) + "/execute", "{\"code\": \"1\"}")
                        .statusCode(),
                "a peer's name, but no such sandbox there");
    }

    @Test
    @Order(5)
    void aFullInstancePlacesNewSandboxesOnAPeerAndTheListCoversTheFleet() {
        List<String> made = new ArrayList<>();
        String elsewhere = null;
        for (int i = 0; i < 4 && elsewhere == null; i++) {
            String id = create(c);
            made.add(id);
            if (!id.endsWith("." + name(c))) {
                elsewhere = id;
            }
        }
        assertTrue(elsewhere != null, "with its 3 slots taken, c placed one on a peer: " + made);
        assertEquals("here\n", stdout(c.execute("/sandboxes/" + elsewhere, "print('here')")));

        JsonNode listed = json(b.get("/sandboxes"));
        List<String> ids = new ArrayList<>();
        listed.path("sandboxes").forEach(s -> ids.add(s.path("id").asText()));
        assertTrue(ids.containsAll(made), ids + " has " + made);
        assertTrue(ids.contains("default"), "the default instance's default sandbox");
        assertEquals(1, ids.stream().filter("default"::equals).count(), "listed once: " + ids);
        JsonNode onlyC = json(b.get("/sandboxes?instance=" + name(c)));
        onlyC.path("sandboxes").forEach(s -> assertTrue(s.path("id").asText().endsWith("." + name(c))));
        made.forEach(id -> send(a, "DELETE", "/sandboxes/" + id, null));
    }

    @Test
    @Order(6)
    void anInstanceThatIsDownAnswers503ThroughTheOthersAndTheirSandboxesKeepWorking() throws Exception {
        String onC = create(c);
        String onB = create(b);
        c.kill();
        HttpResponse<String> down = a.get("/sandboxes/" + onC);
        assertEquals(503, down.statusCode(), down.body());
        assertEquals(
                "instance " + name(c) + " is unavailable",
                json(down).path("error").asText());
        assertTrue(down.headers().firstValue("Retry-After").isPresent());
        assertEquals("fine\n", stdout(a.execute("/sandboxes/" + onB, "print('fine')")));
        JsonNode listed = json(a.get("/sandboxes"));
        assertEquals(
                "[\"" + name(c) + "\"]", listed.path("unavailable_instances").toString());
        for (int i = 0; i < 6; i++) { // the circuit breaker opens: still a 503, and fast
            long start = System.nanoTime();
            assertEquals(503, a.get("/sandboxes/" + onC).statusCode());
            assertTrue(System.nanoTime() - start < Duration.ofSeconds(3).toNanos());
        }
        assertFalse(a.log().contains("Exception in"), "no stack traces for a peer that is down");
    }

    private static String streamed(ServiceProcess via, String prefix, String accept, String code) throws IOException {
        HttpResponse<InputStream> response =
                via.sendStream(HttpRequest.newBuilder(URI.create(via.url(prefix + "/execute")))
                        .header("Accept", accept)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(Map.of("code", code)))));
        assertEquals(200, response.statusCode());
        try (InputStream body = response.body()) {
            return new String(body.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
