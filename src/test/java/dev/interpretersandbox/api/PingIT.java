package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.config.SandboxConfig;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;

@QuarkusTest
class PingIT {

    @Inject
    SandboxConfig config;

    private static Instant lastActivity() {
        JsonPath ping = given().get("/").then().statusCode(200).extract().jsonPath();
        String value = ping.getString("last_activity");
        assertTrue(value.endsWith("Z"), "RFC 3339 in UTC: " + value);
        return Instant.parse(value);
    }

    @Test
    void pingReportsTheSandboxWithoutMovingLastActivity() throws InterruptedException {
        Api.run("print(1)");
        JsonPath ping = given().get("/").then().statusCode(200).extract().jsonPath();
        assertEquals("default", ping.getString("sandbox"));
        assertEquals("idle", ping.getString("state"));
        assertEquals(
                config.isolation() == SandboxConfig.Isolation.PROCESS ? "process" : "runsc/ptrace",
                ping.getString("isolation"));
        Instant first = lastActivity();
        Thread.sleep(20);
        assertEquals(first, lastActivity(), "GET / itself is not activity");
    }

    @Test
    void executeUploadAndDownloadMoveLastActivity() throws InterruptedException {
        Instant before = lastActivity();
        Thread.sleep(20);
        Api.run("pass");
        Instant afterExecute = lastActivity();
        assertTrue(afterExecute.isAfter(before));

        Thread.sleep(20);
        String path = "/mnt/data/ping-" + UUID.randomUUID() + ".txt";
        given().body("x").post("/files/upload/-" + path).then().statusCode(201);
        Instant afterUpload = lastActivity();
        assertTrue(afterUpload.isAfter(afterExecute));

        Thread.sleep(20);
        given().get("/files/download/-" + path).then().statusCode(200);
        assertTrue(lastActivity().isAfter(afterUpload));
    }

    @Test
    void healthEndpointsAnswer() {
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
    }
}
