package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * POST /commands and /sandboxes/{id}/commands: a shell command next to the kernel, in its
 * isolation, with execute's guards (bad input, timeouts, floods, a client that leaves).
 */
@QuarkusTest
class CommandsIT {

    @TestHTTPResource("/")
    URI base;

    static JsonPath command(Map<String, Object> body) {
        return command("", body);
    }

    /** A command on the sandbox at prefix ("" for the default one, else /sandboxes/{id}); 200 expected. */
    static JsonPath command(String prefix, Map<String, Object> body) {
        return given().contentType(ContentType.JSON)
                .body(body)
                .post(prefix + "/commands")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
    }

    /** Whether the sandbox has a root filesystem of its own (runsc), not the host's. */
    protected boolean ownRootFilesystem() {
        return true;
    }

    /** A command's time counts toward the sandbox's busy time (and so its max-busy), as code's does. */
    @Test
    void aCommandsTimeCountsAsBusy() {
        String id = given().post("/sandboxes").then().statusCode(201).extract().path("id");
        try {
            assertEquals(
                    "ok",
                    command("/sandboxes/" + id, Map.of("cmd", "sleep 1.2")).getString("status"));
            float busy = given().get("/sandboxes/" + id).then().extract().path("usage.busy_secs");
            assertTrue(busy >= 1.2f, "busy_secs " + busy);
        } finally {
            given().delete("/sandboxes/" + id).then().statusCode(204);
        }
    }

    @Test
    void outputExitCodeAndWorkingDirectory() {
        JsonPath result = command(Map.of("cmd", "echo hi; pwd; echo err >&2; exit 3"));
        assertEquals("ok", result.getString("status"));
        assertEquals(3, result.getInt("exit_code"));
        assertEquals("hi\n/mnt/data\n", Api.stdout(result));
        assertEquals("err\n", Api.streams(result, "stderr"));
        assertTrue(result.getDouble("usage.wall_ms") > 0);
    }

    @Test
    void itRunsAsTheKernelsUserAndSharesItsFiles() {
        String uid = Api.run("import os; open('/mnt/data/from-kernel.txt', 'w').write('k'); print(os.getuid())");
        JsonPath result = command(Map.of("cmd", "id -u; cat from-kernel.txt; echo -n c > from-command.txt"));
        assertEquals(uid + "\nk", Api.stdout(result));
        assertEquals("c", Api.run("print(open('/mnt/data/from-command.txt').read())"));
        Api.run("import os; os.remove('/mnt/data/from-kernel.txt'); os.remove('/mnt/data/from-command.txt')");
    }

    @Test
    void aSubdirectoryAsWorkingDirectoryAndExtraEnvironment() {
        Api.run("import os; os.makedirs('/mnt/data/work/sub', exist_ok=True)");
        JsonPath result = command(Map.of(
                "cmd", "pwd; echo \"$GREETING\"", "cwd", "/mnt/data/work/sub", "env", Map.of("GREETING", "hello")));
        assertEquals("/mnt/data/work/sub\nhello\n", Api.stdout(result));
        Api.run("import shutil; shutil.rmtree('/mnt/data/work')");
    }

    @Test
    void aLinkAsWorkingDirectoryStaysInsideTheSandbox() {
        if (!ownRootFilesystem()) {
            return; // process mode: the pod is the sandbox (its own gVisor), there is no root of our own
        }
        Api.run("import os\nif not os.path.lexists('/mnt/data/up'): os.symlink('/', '/mnt/data/up')");
        JsonPath result = command(Map.of("cmd", "cat etc/hostname", "cwd", "/mnt/data/up"));
        assertEquals("sandbox\n", Api.stdout(result), "the sandbox's /, not the host's");
        Api.run("import os; os.remove('/mnt/data/up')");
    }

    @Test
    void theTimeoutStopsTheCommandAndWhatItStarted() {
        long started = System.nanoTime();
        JsonPath result = command(Map.of("cmd", "sleep 30 | cat; echo never", "timeout_secs", 1));
        assertEquals("timeout", result.getString("status"));
        assertFalse(Api.stdout(result).contains("never"));
        assertTrue(Duration.ofNanos(System.nanoTime() - started).toSeconds() < 15);
        assertNothingLeft("sleep 30");
    }

    @Test
    void aClientThatLeavesTakesItsCommandWithIt() throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest request = HttpRequest.newBuilder(base.resolve("/commands"))
                .timeout(Duration.ofSeconds(1))
                .POST(HttpRequest.BodyPublishers.ofString("{\"cmd\": \"sleep 40; echo late\"}"))
                .build();
        try {
            client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (HttpTimeoutException expected) {
            // the client gave up
        }
        assertNothingLeft("sleep 40");
    }

    private static void assertNothingLeft(String what) {
        String left = "";
        for (int attempt = 0; attempt < 50; attempt++) {
            left = Api.stdout(command(
                    Map.of("cmd", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null")));
            if (!left.contains(what)) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        throw new AssertionError(what + " still runs: " + left);
    }

    @Test
    void aCommandThatLeavesABackgroundProcessStillAnswers() {
        long started = System.nanoTime();
        JsonPath result = command(Map.of("cmd", "sleep 45 & echo started", "timeout_secs", 30));
        assertEquals("ok", result.getString("status"));
        assertEquals(0, result.getInt("exit_code"));
        assertEquals("started\n", Api.stdout(result));
        assertTrue(
                Duration.ofNanos(System.nanoTime() - started).toSeconds() < 10,
                "answered once the shell exited, not when the background process would");
        if (ownRootFilesystem()) {
            assertNothingLeft("sleep 45"); // its process group went with it
        }
    }

    @Test
    void aFloodOfOutputIsCappedAndTheCommandStillEnds() {
        JsonPath result = command(Map.of("cmd", "head -c 20000000 /dev/zero | tr '\\0' x; echo", "timeout_secs", 60));
        assertEquals("ok", result.getString("status"));
        assertEquals(0, result.getInt("exit_code"));
        assertTrue(Api.stdout(result).length() <= 8 << 20, "at most the stream cap");
        assertTrue(Api.streams(result, "stderr").contains("[output truncated"));
    }

    @Test
    void itRunsWhileCodeExecutes() throws Exception {
        CompletableFuture<JsonPath> cell =
                CompletableFuture.supplyAsync(() -> Api.execute("import time; time.sleep(4); print('cell')"));
        Thread.sleep(500);
        long started = System.nanoTime();
        assertEquals("now\n", Api.stdout(command(Map.of("cmd", "echo now"))));
        assertTrue(Duration.ofNanos(System.nanoTime() - started).toMillis() < 3000, "not queued behind the cell");
        assertEquals("cell\n", Api.stdout(cell.get()));
    }

    @Test
    void ndjsonStreamsTheOutputThenTheExitCode() {
        String body = given().contentType(ContentType.JSON)
                .accept("application/x-ndjson")
                .body(Map.of("cmd", "echo one; echo two >&2; exit 5"))
                .post("/commands")
                .then()
                .statusCode(200)
                .header("Content-Type", containsString("application/x-ndjson"))
                .extract()
                .asString();
        String[] lines = body.strip().split("\n");
        JsonPath last = JsonPath.from(lines[lines.length - 1]);
        assertEquals(5, last.getInt("exit_code"));
        assertEquals("ok", last.getString("status"));
        assertTrue(body.contains("\"text\":\"one\\n\""), body);
    }

    @Test
    void aCreatedSandboxRunsCommandsWithItsEnvironment() {
        String id = given().contentType(ContentType.JSON)
                .body(Map.of("env", Map.of("TEAM", "blue")))
                .post("/sandboxes")
                .then()
                .statusCode(201)
                .extract()
                .path("id");
        try {
            given().contentType(ContentType.JSON)
                    .body(Map.of("cmd", "echo $TEAM"))
                    .post("/sandboxes/" + id + "/commands")
                    .then()
                    .statusCode(200)
                    .body("events[0].data.text", equalTo("blue\n"))
                    .body("exit_code", equalTo(0));
        } finally {
            given().delete("/sandboxes/" + id);
        }
        given().contentType(ContentType.JSON)
                .body(Map.of("cmd", "true"))
                .post("/sandboxes/" + id + "/commands")
                .then()
                .statusCode(404);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "{}",
                "{\"cmd\": \"\"}",
                "{\"cmd\": 5}",
                "{\"cmd\": \"ls\", \"shell\": true}",
                "{\"cmd\": \"ls\", \"cwd\": \"/mnt/data/../etc\"}",
                "{\"cmd\": \"ls\", \"env\": {\"PATH\": \"/tmp\"}}",
                "{\"cmd\": \"ls\", \"env\": {\"A\": 1}}",
                "{\"cmd\": \"ls\", \"timeout_secs\": 0}",
                "{\"cmd\": \"ls\", \"timeout_secs\": \"x\"}",
                "{\"cmd\": \"a\\u0000b\"}",
                "[\"ls\"]",
                "not json"
            })
    void badInputIsA400WithAClearMessage(String body) {
        given().contentType(ContentType.JSON)
                .body(body)
                .post("/commands")
                .then()
                .statusCode(400)
                .body("error", notNullValue());
    }

    @Test
    void aWorkingDirectoryOutsideTheWorkspaceIsRefused() {
        given().contentType(ContentType.JSON)
                .body(Map.of("cmd", "ls", "cwd", "/etc"))
                .post("/commands")
                .then()
                .statusCode(403)
                .body("error", containsString("/mnt/data"));
    }
}
