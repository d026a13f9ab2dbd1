package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.metrics.MetricsIT;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

@QuarkusTest
@TestProfile(ShortIdleProfile.class)
class ReaperAndQueueIT {

    @Test
    void anIdleSandboxIsReapedAndTheNextCallStartsAFreshOne() throws Exception {
        Api.run("reaped_var = 1\nopen('reaped.txt', 'w').write('x')");
        double reapedBefore = MetricsIT.value(MetricsIT.scrape(), "sandbox_reaped_total");
        String kernel = given().get("/").jsonPath().getString("kernel");
        Path cgroups = IsolationIT.findCgroup("memory", kernel).getParent();
        assertTrue(Files.isDirectory(cgroups));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!given().get("/").jsonPath().getString("state").equals("stopped")) {
            assertTrue(System.nanoTime() < deadline, "not reaped within 15 s");
            Thread.sleep(200);
        }
        assertTrue(Files.notExists(cgroups), "the container's cgroups are removed");
        assertEquals(1, MetricsIT.value(MetricsIT.scrape(), "sandbox_reaped_total") - reapedBefore, "counted");
        assertTrue(Files.notExists(Path.of("target/sandbox-state-short-idle/sandboxes/default/workspace/reaped.txt")));
        JsonPath fresh = Api.execute("import os\nprint(os.path.exists('reaped.txt'))\nreaped_var");
        assertEquals("False\n", Api.stdout(fresh));
        assertEquals("NameError", Api.events(fresh, "error").get(0).get("ename"));
    }

    @Test
    void executionsRunOneAtATimeInArrivalOrderAndTheQueueIsBounded() throws Exception {
        Api.run("import time\norder = []");
        List<CompletableFuture<Response>> calls = new ArrayList<>();
        calls.add(CompletableFuture.supplyAsync(() -> Api.post(
                "order.append(('a', time.time())); time.sleep(1.5); order.append(('a-end', time.time()))", 10.0)));
        Thread.sleep(400);
        calls.add(CompletableFuture.supplyAsync(() -> Api.post("order.append(('b', time.time()))", 10.0)));
        Thread.sleep(300);
        // One running, one waiting: the queue (size 1 in this profile) is full.
        Response rejected = Api.post("order.append(('c', time.time()))", 10.0);
        assertEquals(429, rejected.statusCode(), rejected.asString());
        assertTrue(rejected.jsonPath().getString("error").contains("retry"));
        for (CompletableFuture<Response> call : calls) {
            assertEquals(200, call.get(30, TimeUnit.SECONDS).statusCode());
        }
        assertEquals("['a', 'a-end', 'b']", Api.run("print([name for name, _ in order])"));
    }
}
