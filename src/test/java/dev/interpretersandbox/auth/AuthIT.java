package dev.interpretersandbox.auth;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.util.Map;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** With sandbox.auth.token set, everything but the health checks and GET / needs the token. */
@QuarkusTest
@TestProfile(AuthIT.TokenProfile.class)
class AuthIT {

    static final String TOKEN = "t0ken-with-enough-entropy";

    public static class TokenProfile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandbox.auth.token", TOKEN, "sandbox.state-dir", "target/sandbox-state-auth");
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "POST, /execute",
        "POST, /files/upload/-/mnt/data/a.txt",
        "GET, /files/download/-/mnt/data/a.txt",
        "GET, /q/metrics",
        "GET, /q/openapi",
        "GET, /q/swagger-ui/",
        "GET, /no/such/path",
        "GET, /q/health/../../execute",
    })
    void everyOtherEndpointRefusesMissingOrWrongTokens(String method, String path) {
        for (String header : new String[] {null, "Bearer wrong", "Bearer " + TOKEN + "x", "Basic " + TOKEN, TOKEN}) {
            var request = given().body("{\"code\": \"print(1)\"}");
            if (header != null) {
                request = request.header("Authorization", header);
            }
            request.request(method, path)
                    .then()
                    .statusCode(401)
                    .header("WWW-Authenticate", containsString("Bearer"))
                    .body("error", containsString("bearer token is required"));
        }
    }

    @Test
    void theTokenOpensTheApi() {
        given().header("Authorization", "Bearer " + TOKEN)
                .body("{\"code\": \"print('in')\"}")
                .post("/execute")
                .then()
                .statusCode(200)
                .body("events[0].data.text", equalTo("in\n"));
        given().header("Authorization", "bearer " + TOKEN)
                .get("/q/metrics")
                .then()
                .statusCode(200);
        given().header("Authorization", "Bearer " + TOKEN)
                .get("/files/download/-/mnt/data/none.txt")
                .then()
                .statusCode(404);
    }

    @Test
    void aRequestThatClaimsToComeFromAPeerStillNeedsTheToken() {
        // fleet mode forwards the caller's credentials; the marker of a forwarded request opens nothing
        given().header("X-Sandbox-Forwarded", "interpreter-sandbox-0")
                .body("{\"code\": \"print('in')\"}")
                .post("/execute")
                .then()
                .statusCode(401);
        given().header("X-Sandbox-Forwarded", "interpreter-sandbox-0")
                .get("/sandboxes")
                .then()
                .statusCode(401);
    }

    @Test
    void healthChecksAndPingStayOpenForPlatforms() {
        given().get("/").then().statusCode(200).body("last_activity", Matchers.notNullValue());
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/health").then().statusCode(200);
    }
}
