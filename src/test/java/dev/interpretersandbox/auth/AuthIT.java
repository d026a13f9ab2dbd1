package dev.interpretersandbox.auth;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.util.Map;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.Assertions;
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
            // MCP off here too: /mcp then answers 404 behind the token (its own profile would cost a start)
            return Map.of(
                    "sandbox.auth.token",
                    TOKEN,
                    "sandbox.state-dir",
                    "target/sandbox-state-auth",
                    "sandbox.mcp.enabled",
                    "false");
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "POST, /execute",
        "POST, /files/upload/-/mnt/data/a.txt",
        "GET, /files/download/-/mnt/data/a.txt",
        "GET, /q/metrics",
        "POST, /mcp",
        "DELETE, /mcp",
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

    @Test
    void aSandboxsOwnTokenOpensThatSandboxAndNothingElse() {
        String admin = "Bearer " + TOKEN;
        var first = given().header("Authorization", admin)
                .body("{}")
                .post("/sandboxes")
                .then()
                .statusCode(201);
        String a = first.extract().path("id");
        String tokenA = first.extract().path("access_token");
        var second = given().header("Authorization", admin)
                .body("{}")
                .post("/sandboxes")
                .then()
                .statusCode(201);
        String b = second.extract().path("id");
        String tokenB = second.extract().path("access_token");
        Assertions.assertNotEquals(tokenA, tokenB);
        try {
            // its own token: its routes
            given().header("Authorization", "Bearer " + tokenA)
                    .get("/sandboxes/" + a)
                    .then()
                    .statusCode(200)
                    .body("id", equalTo(a))
                    .body("access_token", Matchers.nullValue()); // shown once, at creation
            given().header("Authorization", "Bearer " + tokenA)
                    .body("{\"code\": \"print(6 * 7)\"}")
                    .post("/sandboxes/" + a + "/execute")
                    .then()
                    .statusCode(200)
                    .body("events[0].data.text", equalTo("42\n"));
            // another sandbox's routes: 403, whichever way the path is written
            for (String path :
                    new String[] {"/sandboxes/" + b, "/sandboxes/" + b + "/execute", "/sandboxes/" + b + "/"}) {
                given().header("Authorization", "Bearer " + tokenA)
                        .body("{\"code\": \"print(1)\"}")
                        .post(path)
                        .then()
                        .statusCode(403)
                        .body("error", containsString("not valid for this sandbox"));
            }
            given().header("Authorization", "Bearer " + tokenA)
                    .delete("/sandboxes/" + b)
                    .then()
                    .statusCode(403);
            // the id as the check reads it must be the id every later stage reads
            for (String path : new String[] {
                "/sandboxes/" + b + ";x=" + a + "/execute",
                "/sandboxes/" + b + "%3Bx/execute",
                "/sandboxes/%73" + b.substring(1) + "/execute"
            }) {
                given().urlEncodingEnabled(false)
                        .header("Authorization", "Bearer " + tokenA)
                        .body("{\"code\": \"print(1)\"}")
                        .post(path)
                        .then()
                        .statusCode(403);
            }
            // the service's own routes: only the admin token
            for (String path : new String[] {"/sandboxes", "/execute", "/q/metrics"}) {
                given().header("Authorization", "Bearer " + tokenA)
                        .get(path)
                        .then()
                        .statusCode(401);
            }
            // a token that is no sandbox's: 403 on a sandbox route too, never through
            given().header("Authorization", "Bearer " + tokenA + "x")
                    .get("/sandboxes/" + a)
                    .then()
                    .statusCode(403);
            given().header("Authorization", "Bearer " + tokenB)
                    .delete("/sandboxes/" + b)
                    .then()
                    .statusCode(204);
            given().header("Authorization", "Bearer " + tokenB)
                    .get("/sandboxes/" + b)
                    .then()
                    .statusCode(403); // gone: its token opens nothing any more
        } finally {
            given().header("Authorization", admin).delete("/sandboxes/" + a);
        }
    }

    @Test
    void mcpCanBeSwitchedOffAtRuntime() {
        given().header("Authorization", "Bearer " + TOKEN)
                .contentType("application/json")
                .accept("application/json, text/event-stream")
                .body("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"}")
                .post("/mcp")
                .then()
                .statusCode(404)
                .body("error", containsString("sandbox.mcp.enabled=false"));
    }
}
