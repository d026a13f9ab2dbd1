package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Accept: application/x-ndjson and text/event-stream, and what a client that goes away causes. */
@QuarkusTest
class StreamingIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SLOW_CELL = "import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('last')";

    @TestHTTPResource("/execute")
    URI execute;

    private final HttpClient client = HttpClient.newHttpClient();

    private HttpResponse<Stream<String>> stream(String accept, String code) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(execute)
                .header("Accept", accept)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        JSON.writeValueAsString(Map.of("code", code, "timeout_secs", 30))))
                .build();
        return client.send(request, HttpResponse.BodyHandlers.ofLines());
    }

    @Test
    void ndjsonSendsTheFirstEventBeforeASlowCellEnds() throws Exception {
        HttpResponse<Stream<String>> response = stream("application/x-ndjson", SLOW_CELL);
        assertEquals(200, response.statusCode());
        assertEquals(
                "application/x-ndjson",
                response.headers().firstValue("Content-Type").orElse(""));
        Iterator<String> lines = response.body().iterator();
        JsonNode first = JSON.readTree(lines.next());
        long firstAt = System.nanoTime();
        assertEquals("stream", first.path("type").asText());
        assertEquals("first\n", first.path("data").path("text").asText());
        assertTrue(first.hasNonNull("timestamp"));
        List<JsonNode> rest = new ArrayList<>();
        lines.forEachRemaining(line -> rest.add(read(line)));
        long lastAt = System.nanoTime();
        assertTrue(
                lastAt - firstAt > Duration.ofSeconds(2).toNanos(),
                "the first line came while the cell still slept, "
                        + Duration.ofNanos(lastAt - firstAt).toMillis() + " ms before the end");
        assertEquals("last\n", rest.get(0).path("data").path("text").asText());
        JsonNode end = rest.get(rest.size() - 1);
        assertEquals("ok", end.path("status").asText());
        assertTrue(end.path("usage").path("wall_ms").asDouble() > 2000, "usage comes with the status: " + end);
        assertFalse(end.has("type"), "the last line is the status, not an event");
    }

    @Test
    void serverSentEventsCarryTheSameEvents() throws Exception {
        HttpResponse<Stream<String>> response = stream("text/event-stream", "print('sse')\n1 / 0");
        assertEquals(200, response.statusCode());
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> names = new ArrayList<>();
        List<JsonNode> data = new ArrayList<>();
        response.body().forEach(line -> {
            if (line.startsWith("event: ")) {
                names.add(line.substring(7));
            } else if (line.startsWith("data: ")) {
                data.add(read(line.substring(6)));
            }
        });
        assertEquals(List.of("stream", "error", "done"), names);
        assertEquals("sse\n", data.get(0).path("data").path("text").asText());
        assertEquals("ZeroDivisionError", data.get(1).path("data").path("ename").asText());
        assertEquals("ok", data.get(2).path("status").asText());
    }

    @Test
    void aStreamedTimeoutEndsWithItsStatus() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(execute)
                .header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"code\": \"import time\\nprint('x', flush=True)\\ntime.sleep(30)\", \"timeout_secs\": 1}"))
                .build();
        List<String> lines =
                client.send(request, HttpResponse.BodyHandlers.ofLines()).body().toList();
        assertEquals("x\n", read(lines.get(0)).path("data").path("text").asText());
        assertEquals("timeout", read(lines.get(lines.size() - 1)).path("status").asText());
    }

    @Test
    void badInputIsAPlainErrorEvenWhenAStreamWasAsked() throws Exception {
        HttpRequest request = HttpRequest.newBuilder(execute)
                .header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString("{\"code\": 1}"))
                .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(400, response.statusCode());
        assertEquals(
                "\"code\" must be a string", read(response.body()).path("error").asText());
    }

    @Test
    void aClientThatDisconnectsInterruptsItsPlainJsonExecution() throws Exception {
        disconnectDuringExecution(null);
    }

    @Test
    void aClientThatDisconnectsInterruptsItsStreamedExecution() throws Exception {
        disconnectDuringExecution("application/x-ndjson");
    }

    /** Starts a cell that would sleep 10 minutes, hangs up, and checks the kernel is free and kept state. */
    private void disconnectDuringExecution(String accept) throws Exception {
        String name = "d_" + UUID.randomUUID().toString().replace("-", "");
        Api.run(name + " = 'before'");
        String body = JSON.writeValueAsString(Map.of(
                "code",
                "import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n" + name + " = 'after'",
                "timeout_secs",
                110));
        try (Socket socket = new Socket(execute.getHost(), execute.getPort())) {
            OutputStream out = socket.getOutputStream();
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            out.write(("POST /execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                            + (accept == null ? "" : "Accept: " + accept + "\r\n")
                            + "Content-Length: " + bytes.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            if (accept != null) {
                BufferedReader in =
                        new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                assertEquals("HTTP/1.1 200 OK", in.readLine());
                String line;
                while ((line = in.readLine()) != null && !line.contains("sleeping")) {
                    // headers and chunk sizes
                }
                assertTrue(line != null && line.contains("sleeping"), "the stream started");
            } else {
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (!"busy".equals(RestAssured.get("/").jsonPath().getString("state"))) {
                    assertTrue(System.nanoTime() < deadline, "the cell never started");
                    Thread.sleep(100);
                }
            }
        }
        // The next call would queue behind a 10-minute sleep if the hang-up had not interrupted it;
        // the client's own timeout turns that into a failure instead of a long wait.
        HttpRequest next = HttpRequest.newBuilder(execute)
                .timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString("{\"code\": \"print(" + name + ")\"}"))
                .build();
        JsonNode result =
                read(client.send(next, HttpResponse.BodyHandlers.ofString()).body());
        assertEquals("ok", result.path("status").asText(), result.toString());
        assertEquals(
                "before\n",
                result.path("events").get(0).path("data").path("text").asText(),
                "interrupted, not restarted: " + result);
    }

    private static JsonNode read(String json) {
        try {
            return JSON.readTree(json);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }
}
