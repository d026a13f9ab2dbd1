package dev.interpretersandbox.lifecycle;

import static dev.interpretersandbox.support.ServiceProcess.errors;
import static dev.interpretersandbox.support.ServiceProcess.json;
import static dev.interpretersandbox.support.ServiceProcess.stdout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.support.ServiceProcess;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Sandboxes survive restarts of the real service (the packaged jar, run twice or more on one
 * state directory, with real runsc): a graceful stop keeps variables, imports and files; a kill
 * keeps files and says what was lost; damaged state stays with its own sandbox; expiry counts the
 * downtime.
 */
class RestartIT {

    private static final String SETUP = "import fractions\nx = %d\nopen('keep.txt', 'w').write('kept %d')";
    private static final String CHECK = "import sys\nprint(x, 'fractions' in sys.modules, open('keep.txt').read())";
    private static final String FILES_ONLY = "print(open('keep.txt').read())";

    private Path state;

    @BeforeEach
    void stateDirectory() throws IOException {
        state = Files.createTempDirectory(Path.of("/var/tmp"), "restart-it-");
    }

    @AfterEach
    void removeState() {
        Trees.delete(state);
    }

    private ServiceProcess start(Map<String, String> settings) throws IOException {
        return ServiceProcess.start(state, settings);
    }

    private ServiceProcess start() throws IOException {
        return start(Map.of("SANDBOX_REAPER_INTERVAL", "1s"));
    }

    private static String create(ServiceProcess service, String body) {
        HttpResponse<String> created = service.post("/sandboxes", body);
        assertEquals(201, created.statusCode(), created.body());
        return json(created).path("id").asText();
    }

    private static void setUp(ServiceProcess service, String prefix, int value) {
        JsonNode result = service.execute(prefix, SETUP.formatted(value, value));
        assertEquals("ok", result.path("status").asText(), result.toString());
    }

    private static String state(ServiceProcess service, String id) {
        return json(service.get("/sandboxes/" + id)).path("state").asText();
    }

    @Test
    void aGracefulStopKeepsEverySandboxsVariablesImportsAndFiles() throws Exception {
        String busy;
        String idle;
        String paused;
        CompletableFuture<String> busyCell;
        try (ServiceProcess first = start()) {
            busy = create(first, "{}");
            idle = create(first, "{}");
            paused = create(first, "{\"idle_timeout_secs\": 1}");
            setUp(first, "", 1);
            setUp(first, "/sandboxes/" + busy, 2);
            setUp(first, "/sandboxes/" + idle, 3);
            setUp(first, "/sandboxes/" + paused, 4);
            awaitState(first, paused, "paused");

            // a 2 s cell, streamed, running when the service is told to stop
            busyCell = streamed(first, "/sandboxes/" + busy, "import time\ntime.sleep(2)\ny = 'finished'\nprint(y)");
            awaitState(first, busy, "busy");
            assertStoppedCleanly(first);
        }
        String stream = busyCell.join();
        assertTrue(stream.contains("finished"), "the running cell finished within the grace: " + stream);
        assertTrue(stream.strip().endsWith("}") && stream.contains("\"status\":\"ok\""), stream);

        try (ServiceProcess second = start()) {
            assertEquals("paused", state(second, busy));
            assertEquals("paused", state(second, idle));
            assertEquals("paused", state(second, paused));
            assertEquals("paused", json(second.get("/")).path("state").asText(), "the default sandbox too");
            int value = 1;
            for (String prefix : List.of("", "/sandboxes/" + busy, "/sandboxes/" + idle, "/sandboxes/" + paused)) {
                JsonNode result = second.execute(prefix, CHECK);
                assertEquals(List.of(), errors(result), prefix + ": " + result);
                assertEquals(value + " True kept " + value + "\n", stdout(result), prefix);
                value++;
            }
            assertEquals("finished\n", stdout(second.execute("/sandboxes/" + busy, "print(y)")));
        }
    }

    @Test
    void aKilledServiceKeepsFilesAndSaysVariablesWereLostWithNothingLeftRunning() throws Exception {
        String id;
        Set<String> firstKernels = new HashSet<>();
        try (ServiceProcess first = start()) {
            id = create(first, "{}");
            setUp(first, "", 1);
            setUp(first, "/sandboxes/" + id, 2);
            firstKernels.addAll(kernels(first));
            first.kill(); // the JVM alone: its runsc processes stay behind
        }
        assertTrue(runscProcesses().size() > 0, "runsc outlived the JVM, as after a real kill -9");
        try (ServiceProcess second = start()) {
            assertNothingLeftOf(firstKernels);
            for (String prefix : List.of("", "/sandboxes/" + id)) {
                JsonNode result = second.execute(prefix, FILES_ONLY);
                assertEquals(List.of("KernelDied"), errors(result), result.toString());
                String notice =
                        result.path("events").get(0).path("data").path("evalue").asText();
                assertTrue(notice.contains("restarted unexpectedly"), notice);
                assertTrue(notice.contains("files in /mnt/data are kept"), notice);
                assertTrue(stdout(result).startsWith("kept "), result.toString());
                assertEquals(List.of(), errors(second.execute(prefix, "x = 5")), "told once");
            }
            firstKernels.clear();
            firstKernels.addAll(kernels(second));
            second.killGroup(); // the whole process group, as an OOM kill of the container
        }
        try (ServiceProcess third = start()) {
            assertNothingLeftOf(firstKernels);
            JsonNode result = third.execute("/sandboxes/" + id, FILES_ONLY);
            assertEquals(List.of("KernelDied"), errors(result), result.toString());
            assertEquals("kept 2\n", stdout(result));
        }
    }

    @Test
    void aTornRecordAndAMissingImageAffectOnlyTheirOwnSandboxes() throws Exception {
        String torn;
        String imageless;
        String intact;
        try (ServiceProcess first = start()) {
            torn = create(first, "{}");
            imageless = create(first, "{}");
            intact = create(first, "{}");
            setUp(first, "/sandboxes/" + torn, 1);
            setUp(first, "/sandboxes/" + imageless, 2);
            setUp(first, "/sandboxes/" + intact, 3);
            assertStoppedCleanly(first);
        }
        Path record = state.resolve("sandboxes").resolve(torn).resolve("sandbox.json");
        byte[] bytes = Files.readAllBytes(record);
        Files.write(record, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Trees.delete(state.resolve("sandboxes").resolve(imageless).resolve("checkpoint"));

        try (ServiceProcess second = start()) {
            HttpResponse<String> gone = second.get("/sandboxes/" + torn);
            assertEquals(410, gone.statusCode(), gone.body());
            assertTrue(json(gone).path("error").asText().contains("could not be brought back"), gone.body());
            assertTrue(second.log().contains("cannot be brought back"), "logged with the reason");
            assertEquals(
                    410,
                    second.post("/sandboxes/" + torn + "/execute", "{\"code\": \"1\"}")
                            .statusCode());

            JsonNode fresh = second.execute("/sandboxes/" + imageless, FILES_ONLY);
            assertEquals(List.of("KernelDied"), errors(fresh), fresh.toString());
            assertEquals("kept 2\n", stdout(fresh), "its files are there");

            JsonNode whole = second.execute("/sandboxes/" + intact, CHECK);
            assertEquals(List.of(), errors(whole), whole.toString());
            assertEquals("3 True kept 3\n", stdout(whole));
        }
    }

    @Test
    void aSandboxWhoseIdleTimeoutPassedWhileTheServiceWasDownIsGone() throws Exception {
        // Without pausing, an idle sandbox is removed at its idle timeout; the reaper of the first
        // run never gets to it, so only the downtime makes it expire.
        Map<String, String> settings =
                Map.of("SANDBOX_SANDBOXES_PAUSE_ENABLED", "false", "SANDBOX_REAPER_INTERVAL", "1h");
        String shortLived;
        String longLived;
        try (ServiceProcess first = start(settings)) {
            shortLived = create(first, "{\"idle_timeout_secs\": 3}");
            longLived = create(first, "{}");
            setUp(first, "/sandboxes/" + shortLived, 1);
            setUp(first, "/sandboxes/" + longLived, 2);
            assertStoppedCleanly(first);
        }
        Thread.sleep(5_000); // the service is down for 5 s
        try (ServiceProcess second = start(settings)) {
            HttpResponse<String> gone = second.get("/sandboxes/" + shortLived);
            assertEquals(410, gone.statusCode(), gone.body());
            assertEquals("idle for longer than 3 s", json(gone).path("reason").asText(), gone.body());
            assertFalse(Files.exists(state.resolve("sandboxes").resolve(shortLived)), "its files are removed");
            assertEquals("2 True kept 2\n", stdout(second.execute("/sandboxes/" + longLived, CHECK)));
        }
    }

    /** SIGTERM; the JVM exits by the signal (143) or with 0, after its shutdown saved the sandboxes. */
    private static void assertStoppedCleanly(ServiceProcess service) {
        int exit = service.terminate(Duration.ofSeconds(120));
        assertTrue(exit == 0 || exit == 143, "exit code " + exit + ":\n" + service.log());
        assertTrue(service.log().contains("sandboxes saved"), service.log());
    }

    private static void awaitState(ServiceProcess service, String id, String wanted) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!state(service, id).equals(wanted)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("sandbox " + id + " never became " + wanted + ": " + state(service, id));
            }
            Thread.sleep(100);
        }
    }

    /** Starts a streamed execute; completes with the whole NDJSON body once the server ends it. */
    private static CompletableFuture<String> streamed(ServiceProcess service, String prefix, String code)
            throws IOException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(service.url(prefix + "/execute")))
                .header("Accept", "application/x-ndjson")
                .POST(HttpRequest.BodyPublishers.ofString(
                        new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(Map.of("code", code))))
                .build();
        return HttpClient.newHttpClient()
                .sendAsync(request, HttpResponse.BodyHandlers.ofInputStream())
                .thenApply(response -> {
                    try (InputStream body = response.body()) {
                        return new String(body.readAllBytes(), StandardCharsets.UTF_8);
                    } catch (IOException e) {
                        return "the stream broke: " + e;
                    }
                });
    }

    /** Names of the kernels (containers) the service's sandboxes run now. */
    private static List<String> kernels(ServiceProcess service) {
        List<String> names = new ArrayList<>();
        for (JsonNode sandbox : json(service.get("/sandboxes")).path("sandboxes")) {
            if (!sandbox.path("kernel").isNull()) {
                names.add(sandbox.path("kernel").asText());
            }
        }
        JsonNode ping = json(service.get("/"));
        if (!ping.path("kernel").isNull()) {
            names.add(ping.path("kernel").asText());
        }
        assertFalse(names.isEmpty(), "kernels were running");
        return names;
    }

    /** No process, runsc container state or cgroup of these kernels is left. */
    private void assertNothingLeftOf(Set<String> kernels) throws IOException {
        for (String process : runscProcesses()) {
            for (String kernel : kernels) {
                assertFalse(process.contains(kernel), "a process of kernel " + kernel + " is left: " + process);
            }
        }
        try (Stream<Path> walk = Files.walk(state.resolve("runsc"))) {
            for (Path path : walk.toList()) {
                for (String kernel : kernels) {
                    assertFalse(path.getFileName().toString().contains(kernel), "runsc state left: " + path);
                }
            }
        }
        try (Stream<Path> walk = Files.walk(Path.of("/sys/fs/cgroup"), 8)) {
            for (Path path : walk.toList()) {
                assertFalse(
                        path.getFileName() != null
                                && kernels.contains(path.getFileName().toString()),
                        "cgroup left: " + path);
            }
        }
    }

    /** Command lines of runsc processes that use this test's state directory. */
    private List<String> runscProcesses() throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : procs.toList()) {
                try {
                    String cmdline = Files.readString(proc.resolve("cmdline")).replace('\0', ' ');
                    if (cmdline.contains("runsc") && cmdline.contains(state.toString())) {
                        found.add(cmdline);
                    }
                } catch (IOException e) {
                    // the process ended
                }
            }
        }
        return found;
    }
}
