package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.notNullValue;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Client mistakes get a 4xx with {"error": ...}, never a 500. */
@QuarkusTest
class ExecuteValidationIT {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(
            delimiter = '|',
            value = {
                "{\"code\": |not valid JSON",
                "not json at all|not valid JSON",
                "[1, 2]|must be a JSON object",
                "\"print(1)\"|must be a JSON object",
                "{}|\"code\" is required",
                "{\"code\": null}|\"code\" is required",
                "{\"code\": 42}|\"code\" must be a string",
                "{\"code\": [\"print(1)\"]}|\"code\" must be a string",
                "{\"code\": \"1\", \"timeout_secs\": 0}|greater than 0",
                "{\"code\": \"1\", \"timeout_secs\": -5}|greater than 0",
                "{\"code\": \"1\", \"timeout_secs\": \"10\"}|must be a number",
                "{\"code\": \"1\", \"timeout_secs\": true}|must be a number",
                "{\"code\": \"1\", \"timeout_secs\": 1e9}|must be at most 120",
            })
    void badBodiesAre400(String body, String message) {
        given().contentType(ContentType.JSON)
                .body(body)
                .post("/execute")
                .then()
                .statusCode(400)
                .contentType(ContentType.JSON)
                .body("error", containsString(message));
    }

    @Test
    void emptyBodyIs400() {
        given().contentType(ContentType.JSON)
                .post("/execute")
                .then()
                .statusCode(400)
                .body("error", notNullValue());
    }

    @Test
    void oversizedBodyIs413() {
        String code = "#".repeat(70 * 1024); // the test profile allows 64 KiB
        given().contentType(ContentType.JSON)
                .body("{\"code\": \"" + code + "\"}")
                .post("/execute")
                .then()
                .statusCode(413)
                .body("error", containsString("larger than 64 KiB"));
    }

    @Test
    void fractionalTimeoutIsAccepted() {
        given().contentType(ContentType.JSON)
                .body("{\"code\": \"print(1)\", \"timeout_secs\": 30.5}")
                .post("/execute")
                .then()
                .statusCode(200)
                .body("status", Matchers.equalTo("ok"));
    }

    @Test
    void unknownPathsAndMethodsAreJsonErrors() {
        given().get("/no/such/thing").then().statusCode(404).body("error", notNullValue());
        given().get("/execute").then().statusCode(405).body("error", notNullValue());
    }
}
