package dev.interpretersandbox.auth;

import static io.restassured.RestAssured.given;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** sandbox.auth.protect-ping=true: GET / needs the token too; health checks stay open. */
@QuarkusTest
@TestProfile(ProtectedPingIT.Profile.class)
class ProtectedPingIT {

    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandbox.auth.token", AuthIT.TOKEN,
                    "sandbox.auth.protect-ping", "true",
                    "sandbox.state-dir", "target/sandbox-state-auth");
        }
    }

    @Test
    void pingNeedsTheToken() {
        given().get("/").then().statusCode(401);
        given().header("Authorization", "Bearer " + AuthIT.TOKEN)
                .get("/")
                .then()
                .statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
    }
}
