package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A host where runsc cannot run: the service says so instead of failing obscurely. */
@QuarkusTest
@TestProfile(BrokenRuntimeIT.NoRunsc.class)
class BrokenRuntimeIT {

    public static class NoRunsc implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandbox.runsc.path", "/nonexistent/runsc",
                    "sandbox.state-dir", "target/sandbox-state-broken");
        }
    }

    @Test
    void pingIs503WithTheReason() {
        given().get("/").then().statusCode(503).body("error", containsString("runsc is not usable"));
    }

    @Test
    void executeIs503AndReadinessIsDown() {
        Api.post("print(1)", null).then().statusCode(503).body("error", containsString("could not be started"));
        given().get("/q/health/ready").then().statusCode(503);
        given().get("/q/health/live").then().statusCode(200);
    }
}
