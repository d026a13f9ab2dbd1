package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;

import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** What a client of the API does, for the tests: execute code, read the events. */
final class Api {

    private Api() {}

    static Response post(String code, Double timeoutSecs) {
        Map<String, Object> body = new HashMap<>();
        body.put("code", code);
        if (timeoutSecs != null) {
            body.put("timeout_secs", timeoutSecs);
        }
        return given().contentType(ContentType.JSON).body(body).post("/execute");
    }

    /** Executes and asserts HTTP 200; returns the body. */
    static JsonPath execute(String code) {
        return execute(code, null);
    }

    static JsonPath execute(String code, Double timeoutSecs) {
        Response response = post(code, timeoutSecs);
        response.then().statusCode(200);
        return response.jsonPath();
    }

    /** All stdout text of an execution. */
    static String stdout(JsonPath result) {
        return streams(result, "stdout");
    }

    static String streams(JsonPath result, String name) {
        StringBuilder out = new StringBuilder();
        List<Map<String, Object>> events = result.getList("events");
        for (Map<String, Object> event : events) {
            if ("stream".equals(event.get("type"))) {
                @SuppressWarnings("unchecked")
                Map<String, Object> data = (Map<String, Object>) event.get("data");
                if (name.equals(data.get("name"))) {
                    out.append(data.get("text"));
                }
            }
        }
        return out.toString();
    }

    /** Events of one type. */
    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> events(JsonPath result, String type) {
        List<Map<String, Object>> events = result.getList("events");
        return events.stream()
                .filter(e -> type.equals(e.get("type")))
                .map(e -> (Map<String, Object>) e.get("data"))
                .toList();
    }

    /** Runs code that must succeed without an error event and returns its stdout, stripped. */
    static String run(String code) {
        JsonPath result = execute(code);
        if (!"ok".equals(result.getString("status")) || !events(result, "error").isEmpty()) {
            throw new AssertionError("execution failed: " + result.prettify());
        }
        return stdout(result).strip();
    }
}
