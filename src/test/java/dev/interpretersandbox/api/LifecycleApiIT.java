package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.isolation.RunscClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** POST/GET/DELETE /sandboxes and everything under /sandboxes/{id}/, with real runsc. */
@QuarkusTest
@TestProfile(LifecycleApiIT.Profile.class)
class LifecycleApiIT {

    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandbox.state-dir", "target/sandbox-state-lifecycle",
                    "sandbox.sandboxes.pool.size", "1",
                    "sandbox.sandboxes.pool.preload", "import json",
                    "sandbox.sandboxes.max-count", "8",
                    "sandbox.sandboxes.memory-budget", "7G",
                    "sandbox.sandboxes.pause.keep", "4s");
        }
    }

    @Inject
    RunscClient runsc;

    static JsonPath create(Object body) {
        var request = given().contentType(ContentType.JSON);
        if (body != null) {
            request = request.body(body);
        }
        return request.post("/sandboxes").then().statusCode(201).extract().jsonPath();
    }

    static JsonPath execute(String id, String code) {
        return given().contentType(ContentType.JSON)
                .body(Map.of("code", code, "timeout_secs", 60))
                .post("/sandboxes/" + id + "/execute")
                .then()
                .statusCode(200)
                .extract()
                .jsonPath();
    }

    static String run(String id, String code) {
        JsonPath result = execute(id, code);
        assertTrue(Api.events(result, "error").isEmpty(), result.prettify());
        return Api.stdout(result).strip();
    }

    static void delete(String id) {
        given().delete("/sandboxes/" + id).then().statusCode(204);
    }

    @Test
    void createPingListDeleteAndDeleteAgain() {
        JsonPath created = create(null);
        String id = created.getString("id");
        assertTrue(id.matches("sb-[0-9a-f]{16}"), id);
        assertNotNull(created.getString("last_activity"));
        assertTrue(Instant.parse(created.getString("expires_at"))
                .isAfter(Instant.now().plusSeconds(800)));
        assertEquals(1073741824L, created.getLong("limits.memory_bytes"));
        given().get("/sandboxes/" + id)
                .then()
                .statusCode(200)
                .body("id", equalTo(id))
                .body("last_activity", notNullValue());
        List<String> listed = given().get("/sandboxes").jsonPath().getList("sandboxes.id");
        assertTrue(listed.contains(id), listed.toString());
        delete(id);
        given().delete("/sandboxes/" + id).then().statusCode(404).body("error", containsString(id));
        given().get("/sandboxes/" + id).then().statusCode(404);
        assertFalse(given().get("/sandboxes").jsonPath().getList("sandboxes.id").contains(id));
    }

    @Test
    void aCreatedSandboxComesWarmFromThePoolWithThePreloadImported() throws Exception {
        waitForPool();
        JsonPath created = create(null);
        String id = created.getString("id");
        assertEquals("idle", created.getString("state"), "the kernel already runs");
        String kernel = created.getString("kernel");
        assertNotNull(kernel);
        assertEquals("True", run(id, "import sys\nprint('json' in sys.modules)"));
        assertEquals(
                kernel, given().get("/sandboxes/" + id).jsonPath().getString("kernel"), "no kernel start on the way");
        // Restored from the template with all of the host's CPUs, then held to its own limit.
        Path cpu = IsolationIT.findCgroup("cpu", kernel);
        assertEquals("100000", Files.readString(cpu.resolve("cpu.cfs_quota_us")).strip());
        waitForPool(); // refilled in the background
        delete(id);
    }

    @Test
    void poolMembersAreRestoredFromOneTemplateImageAndEachGetsItsOwnRandomState() throws Exception {
        waitForPool();
        Path templates = Path.of("target/sandbox-state-lifecycle/runtime/templates");
        List<Path> built;
        try (var dirs = Files.list(templates)) {
            built = dirs.toList();
        }
        assertEquals(1, built.size(), "one template for this configuration: " + built);
        assertTrue(Files.exists(built.get(0).resolve("complete")));
        try (var files = Files.list(built.get(0).resolve("image"))) {
            assertTrue(files.findAny().isPresent(), "the checkpoint image");
        }
        String a = create(null).getString("id");
        waitForPool();
        String b = create(null).getString("id");
        String draw = "import random, sys\nprint(random.random(), 'json' in sys.modules)";
        String first = run(a, draw);
        String second = run(b, draw);
        assertTrue(first.endsWith(" True") && second.endsWith(" True"), first + " / " + second);
        assertFalse(first.equals(second), "reseeded after the restore: " + first);
        delete(a);
        delete(b);
    }

    private static void waitForPool() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (given().get("/q/health/ready")
                        .jsonPath()
                        .getInt("checks.find { it.name == 'sandbox-runtime' }.data.warm_pool_ready")
                < 1) {
            assertTrue(System.nanoTime() < deadline, "the warm pool refills");
            Thread.sleep(200);
        }
    }

    @Test
    void sandboxesKeepTheirOwnStateAndFilesAndTheUnprefixedApiIsTheDefaultOne() {
        String a = create(null).getString("id");
        String b = create(Map.of("limits", Map.of("memory_bytes", 512L << 20))).getString("id");
        run(a, "secret = 'a'");
        run(b, "secret = 'b'");
        Api.run("secret = 'default'");
        assertEquals("a", run(a, "print(secret)"));
        assertEquals("b", run(b, "print(secret)"));
        assertEquals("default", Api.run("print(secret)"));
        given().body("in a".getBytes())
                .post("/sandboxes/" + a + "/files/upload/-/mnt/data/only-a.txt")
                .then()
                .statusCode(201);
        given().get("/sandboxes/" + a + "/files/download/-/mnt/data/only-a.txt")
                .then()
                .statusCode(200)
                .body(equalTo("in a"));
        given().get("/sandboxes/" + b + "/files/download/-/mnt/data/only-a.txt")
                .then()
                .statusCode(404);
        given().get("/files/download/-/mnt/data/only-a.txt").then().statusCode(404);
        assertEquals("False", run(b, "import os\nprint(os.path.exists('/mnt/data/only-a.txt'))"));
        delete(a);
        delete(b);
    }

    @Test
    void limitsAndEnvironmentApplyAndAreValidated() throws Exception {
        JsonPath created = create(Map.of(
                "limits", Map.of("memory_bytes", 256L << 20, "cpus", 0.5, "pids", 128),
                "env", Map.of("GREETING", "hello", "API_KEY", "k-123")));
        String id = created.getString("id");
        assertEquals("hello k-123", run(id, "import os\nprint(os.environ['GREETING'], os.environ['API_KEY'])"));
        String kernel = given().get("/sandboxes/" + id).jsonPath().getString("kernel");
        assertEquals(
                String.valueOf(256L << 20),
                Files.readString(IsolationIT.findCgroup("memory", kernel).resolve("memory.limit_in_bytes"))
                        .strip());
        assertEquals(
                "128",
                Files.readString(IsolationIT.findCgroup("pids", kernel).resolve("pids.max"))
                        .strip());
        JsonPath bomb = execute(id, "x = bytearray(400 * 1024 * 1024)");
        assertEquals(
                "MemoryError", Api.events(bomb, "error").get(0).get("ename"), "AS follows the sandbox's own limit");
        delete(id);

        for (Object[] bad : new Object[][] {
            {Map.of("limits", Map.of("memory_bytes", 64L << 30)), "between"},
            {Map.of("limits", Map.of("cpus", 16)), "between"},
            {Map.of("limits", Map.of("pids", "many")), "integer"},
            {Map.of("limits", Map.of("disk", 1)), "unknown limit"},
            {Map.of("env", Map.of("1BAD", "x")), "invalid environment variable name"},
            {Map.of("env", Map.of("LD_PRELOAD", "/x.so")), "set by the sandbox"},
            {Map.of("env", Map.of("N", 1)), "must be a string"},
            {Map.of("idle_timeout_secs", 0), "idle_timeout_secs"},
            {Map.of("colour", "blue"), "unknown field"},
        }) {
            given().contentType(ContentType.JSON)
                    .body(bad[0])
                    .post("/sandboxes")
                    .then()
                    .statusCode(400)
                    .body("error", containsString((String) bad[1]));
        }
        given().contentType(ContentType.JSON)
                .body("{not json")
                .post("/sandboxes")
                .then()
                .statusCode(400)
                .body("error", containsString("not valid JSON"));
    }

    @Test
    void idsAreValidatedAndUnknownOnesAre404() {
        for (String path : List.of("/sandboxes/UPPER", "/sandboxes/a_b/execute", "/sandboxes/" + "x".repeat(70))) {
            Response response =
                    path.endsWith("execute") ? given().body("{\"code\": \"1\"}").post(path) : given().get(path);
            assertEquals(400, response.statusCode(), path + ": " + response.asString());
            assertTrue(response.jsonPath().getString("error").contains("invalid sandbox id"));
        }
        given().get("/sandboxes/sb-0000000000000000")
                .then()
                .statusCode(404)
                .body("error", containsString("no sandbox"));
        given().body("{\"code\": \"1\"}")
                .post("/sandboxes/sb-0000000000000000/execute")
                .then()
                .statusCode(404);
        given().body("x")
                .post("/sandboxes/sb-0000000000000000/files/upload/-/mnt/data/x")
                .then()
                .statusCode(404);
        given().get("/sandboxes/sb-0000000000000000/files/download/-/mnt/data/x")
                .then()
                .statusCode(404)
                .body("error", containsString("no sandbox"));
    }

    static void waitForState(String id, String state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!state.equals(given().get("/sandboxes/" + id).jsonPath().getString("state"))) {
            assertTrue(System.nanoTime() < deadline, id + " became " + state + " within 20 s");
            Thread.sleep(100);
        }
    }

    @Test
    void anIdleSandboxIsPausedToDiskAndTheNextCallResumesItWithItsVariables() throws Exception {
        String id = create(Map.of("idle_timeout_secs", 2)).getString("id");
        run(id, "import numpy as np\nanswer = np.int64(41)");
        given().body("kept".getBytes())
                .post("/sandboxes/" + id + "/files/upload/-/mnt/data/kept.txt")
                .then()
                .statusCode(201);
        String kernel = given().get("/sandboxes/" + id).jsonPath().getString("kernel");
        Path cgroup = IsolationIT.findCgroup("memory", kernel).getParent();
        waitForState(id, "paused");
        JsonPath paused = given().get("/sandboxes/" + id).jsonPath();
        assertNull(paused.getString("kernel"));
        assertFalse(runsc.list().contains(kernel), "the container is gone: no memory held");
        assertFalse(Files.exists(cgroup), "and so is its cgroup");
        assertTrue(
                Instant.parse(paused.getString("expires_at"))
                        .isBefore(Instant.now().plusSeconds(5)),
                "kept for pause.keep");

        assertEquals("42 kept", run(id, "print(answer + 1, open('kept.txt').read())"));
        JsonPath resumed = given().get("/sandboxes/" + id).jsonPath();
        assertEquals("idle", resumed.getString("state"));
        assertTrue(!kernel.equals(resumed.getString("kernel")), "a new container");
        // The restore ran with all of the host's CPUs; the sandbox's own limit applies again.
        Path cpu = IsolationIT.findCgroup("cpu", resumed.getString("kernel"));
        assertEquals("100000", Files.readString(cpu.resolve("cpu.cfs_quota_us")).strip());
        delete(id);
    }

    /**
     * A command that left a process running in a session of its own with the command's output
     * open: a checkpoint saved that pipe to the host, which no restore can open again, and the
     * sandbox lost its variables. A pause now ends such a process first.
     */
    @Test
    void aProcessACommandLeftWithItsOutputOpenDoesNotCostThePauseItsVariables() throws Exception {
        String id = create(Map.of("idle_timeout_secs", 2)).getString("id");
        run(id, "answer = 41");
        JsonPath started = CommandsIT.command(
                "/sandboxes/" + id,
                Map.of("cmd", "setsid sh -c 'while true; do echo hi; sleep 1; done' & echo started"));
        assertEquals("ok", started.getString("status"));
        waitForState(id, "paused");
        assertEquals("42", run(id, "print(answer + 1)"));
        delete(id);
    }

    @Test
    void aSandboxPausedTooLongIsRemovedAndAnswers410WithReasonAndTimeButNeverDuringACall() throws Exception {
        String id = create(Map.of("idle_timeout_secs", 2)).getString("id");
        // A call longer than the idle timeout: the reaper (every second here) must wait for it.
        JsonPath slow = execute(id, "import time\ntime.sleep(4)\nprint('survived')");
        assertEquals("survived\n", Api.stdout(slow));
        waitForState(id, "paused");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Response gone;
        while ((gone = given().get("/sandboxes/" + id)).statusCode() == 200) {
            assertTrue(System.nanoTime() < deadline, "removed within 20 s");
            Thread.sleep(250);
        }
        assertEquals(410, gone.statusCode(), gone.asString());
        assertTrue(gone.jsonPath().getString("reason").startsWith("paused for longer than 4 s"), gone.asString());
        assertTrue(Instant.parse(gone.jsonPath().getString("removed_at"))
                .isBefore(Instant.now().plusSeconds(1)));
        given().body("{\"code\": \"1\"}")
                .post("/sandboxes/" + id + "/execute")
                .then()
                .statusCode(410)
                .body("error", containsString("removed"));
        assertFalse(
                Files.exists(Path.of("target/sandbox-state-lifecycle/sandboxes", id)),
                "its directory and image are gone");
    }

    @Test
    void interruptStopsTheRunningCellAndRestartGivesAFreshKernel() throws Exception {
        String id = create(null).getString("id");
        run(id, "kept = 1");
        assertFalse(
                given().post("/sandboxes/" + id + "/interrupt").jsonPath().getBoolean("interrupted"),
                "idle: nothing to interrupt");
        CompletableFuture<JsonPath> slow =
                CompletableFuture.supplyAsync(() -> execute(id, "import time\ntime.sleep(30)"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!given().get("/sandboxes/" + id).jsonPath().getString("state").equals("busy")) {
            assertTrue(System.nanoTime() < deadline);
            Thread.sleep(50);
        }
        assertTrue(given().post("/sandboxes/" + id + "/interrupt").jsonPath().getBoolean("interrupted"));
        JsonPath interrupted = slow.get(10, TimeUnit.SECONDS);
        assertEquals(
                "KeyboardInterrupt", Api.events(interrupted, "error").get(0).get("ename"));
        assertEquals("1", run(id, "print(kept)"), "an interrupt keeps state");

        given().post("/sandboxes/" + id + "/restart").then().statusCode(200).body("id", equalTo(id));
        assertEquals(
                "NameError", Api.events(execute(id, "kept"), "error").get(0).get("ename"));
        delete(id);
    }

    @Test
    void executeReportsUsageFromTheSandboxCgroup() {
        String id = create(null).getString("id");
        JsonPath small = execute(id, "1");
        assertTrue(small.getLong("usage.peak_memory_bytes") < 200L << 20, small.prettify());
        JsonPath result = execute(id, "x = bytearray(200 * 1024 * 1024)\nsum(range(3_000_000))");
        assertTrue(result.getDouble("usage.wall_ms") > 0);
        assertTrue(result.getDouble("usage.cpu_ms") > 10, result.prettify());
        assertTrue(result.getLong("usage.peak_memory_bytes") > 200L << 20, result.prettify());
        delete(id);
    }

    @Test
    void capacityIsEnforcedWith503AndRetryAfter() {
        List<String> created = new ArrayList<>();
        try {
            Response refused = null;
            for (int i = 0; i < 10 && refused == null; i++) {
                Response response = given().contentType(ContentType.JSON)
                        .body(Map.of("limits", Map.of("memory_bytes", 128L << 20)))
                        .post("/sandboxes");
                if (response.statusCode() == 201) {
                    created.add(response.jsonPath().getString("id"));
                } else {
                    refused = response;
                }
            }
            assertNotNull(refused, "refused before 10");
            assertEquals(503, refused.statusCode());
            assertNotNull(refused.getHeader("Retry-After"));
            assertTrue(refused.jsonPath().getString("error").contains("maximum of 8 sandboxes"), refused.asString());
        } finally {
            created.forEach(LifecycleApiIT::delete);
        }
        Response budget = given().contentType(ContentType.JSON)
                .body(Map.of("limits", Map.of("memory_bytes", 6L << 30)))
                .post("/sandboxes");
        assertEquals(503, budget.statusCode(), budget.asString());
        assertTrue(budget.jsonPath().getString("error").contains("memory budget of 7 GiB"), budget.asString());
    }

    @Test
    void aSandboxKilledFromOutsideIsCleanedUpReportedAndReplaced() throws Exception {
        String id = create(null).getString("id");
        run(id, "before = 1");
        String kernel = given().get("/sandboxes/" + id).jsonPath().getString("kernel");
        Path cgroup = IsolationIT.findCgroup("memory", kernel).getParent();
        // kill -9 every process of the sandbox: runsc's sentry and gofer and the kernel
        for (String pid : Files.readAllLines(cgroup.resolve("kernel/cgroup.procs"))) {
            ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (given().get("/sandboxes/" + id).jsonPath().getString("kernel") != null) {
            assertTrue(System.nanoTime() < deadline, "noticed within seconds");
            Thread.sleep(100);
        }
        assertFalse(runsc.list().contains(kernel), "runsc state removed");
        assertFalse(Files.exists(cgroup), "cgroup removed");
        JsonPath next = execute(id, "print('replaced')");
        assertEquals("replaced\n", Api.stdout(next));
        Map<String, Object> notice = Api.events(next, "error").get(0);
        assertEquals("KernelDied", notice.get("ename"));
        assertTrue(((String) notice.get("evalue")).contains("died while idle"), notice.toString());
        assertNull(Api.events(execute(id, "1"), "error").stream().findFirst().orElse(null), "reported once");
        delete(id);
    }

    @Test
    void aMemoryBombInOneSandboxDoesNotDisturbAnother() throws Exception {
        String bomb =
                create(Map.of("limits", Map.of("memory_bytes", 256L << 20))).getString("id");
        String calm = create(null).getString("id");
        run(calm, "state = 'calm'");
        CompletableFuture<JsonPath> exploding = CompletableFuture.supplyAsync(() -> execute(
                bomb, "import numpy as np\nchunks = []\nfor _ in range(100):\n    chunks.append(np.ones(4 << 20))"));
        for (int i = 0; i < 20; i++) {
            long start = System.nanoTime();
            assertEquals("calm", run(calm, "print(state)"));
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "a trivial cell stays quick");
        }
        JsonPath exploded = exploding.get(60, TimeUnit.SECONDS);
        String ename = (String) Api.events(exploded, "error").get(0).get("ename");
        assertTrue(ename.equals("MemoryError") || ename.equals("KernelDied"), exploded.prettify());
        assertEquals("calm", run(calm, "print(state)"));
        delete(bomb);
        delete(calm);
    }
}
