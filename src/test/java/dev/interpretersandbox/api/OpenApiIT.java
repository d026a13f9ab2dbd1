package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import org.hamcrest.Matchers;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The API description generated from the resources and their annotations: complete, with
 * examples, and in step with what the service really answers.
 */
@QuarkusTest
class OpenApiIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private JsonNode doc;

    @BeforeEach
    void load() throws Exception {
        doc = JSON.readTree(given().get("/q/openapi?format=json")
                .then()
                .statusCode(200)
                .extract()
                .asString());
    }

    /** A node, or what its $ref points to. */
    private JsonNode resolve(JsonNode node) {
        if (node.has("allOf") && node.get("allOf").size() == 1) {
            node = node.get("allOf").get(0);
        }
        return node.has("$ref") ? doc.at(node.get("$ref").asText().substring(1)) : node;
    }

    private JsonNode example(String path, String method, String status) {
        JsonNode response = resolve(
                doc.at("/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method + "/responses/" + status));
        JsonNode json = response.at("/content/application~1json");
        return json.has("example")
                ? json.get("example")
                : json.path("examples").elements().next().path("value");
    }

    @Test
    void everyEndpointIsDescribedWithAnExampleForEveryJsonResponse() {
        Map<String, String> operations = Map.ofEntries(
                Map.entry("/", "get"),
                Map.entry("/execute", "post"),
                Map.entry("/files/upload/-/{path}", "post"),
                Map.entry("/files/download/-/{path}", "get"),
                Map.entry("/sandboxes", "post"),
                Map.entry("/sandboxes/{id}", "get"),
                Map.entry("/sandboxes/{id}/execute", "post"),
                Map.entry("/sandboxes/{id}/files/upload/-/{path}", "post"),
                Map.entry("/sandboxes/{id}/files/download/-/{path}", "get"),
                Map.entry("/sandboxes/{id}/interrupt", "post"),
                Map.entry("/sandboxes/{id}/restart", "post"),
                Map.entry("/commands", "post"),
                Map.entry("/sandboxes/{id}/commands", "post"));
        assertEquals(operations.keySet(), fieldNames(doc.path("paths")));
        operations.forEach((path, method) -> {
            JsonNode responses = doc.path("paths").path(path).path(method).path("responses");
            assertFalse(responses.isEmpty(), path);
            responses.fields().forEachRemaining(response -> {
                JsonNode node = response.getValue();
                if (node.has("$ref")) {
                    node = doc.at(node.get("$ref").asText().substring(1));
                }
                JsonNode content = node.path("content");
                if (content.has("application/json")) {
                    JsonNode json = content.get("application/json");
                    assertTrue(
                            json.has("example") || json.has("examples"),
                            method + " " + path + " " + response.getKey() + " has an example");
                }
            });
        });
        JsonNode executed =
                resolve(doc.at("/paths/~1execute/post/responses/200")).path("content");
        assertTrue(executed.has("application/x-ndjson"));
        assertTrue(executed.has("text/event-stream"));
        assertEquals(
                Set.of("stream", "display_data", "error", "file"),
                fieldNames(doc.at("/components/schemas/Event/discriminator/mapping")));
    }

    @Test
    void documentedErrorMessagesAreTheOnesTheServiceSends() {
        given().contentType(ContentType.JSON)
                .body("{}")
                .post("/execute")
                .then()
                .statusCode(400)
                .body(
                        "error",
                        Matchers.equalTo(
                                example("/execute", "post", "400").path("error").asText()));
        given().get("/files/download/-/mnt/data/never-there.txt")
                .then()
                .statusCode(404)
                .body(
                        "error",
                        Matchers.equalTo(example("/files/download/-/{path}", "get", "404")
                                .path("error")
                                .asText()));
        given().get("/files/download/-/etc/passwd")
                .then()
                .statusCode(403)
                .body(
                        "error",
                        Matchers.equalTo(example("/files/download/-/{path}", "get", "403")
                                .path("error")
                                .asText()));
        given().get("/sandboxes/sb-0000000000000000")
                .then()
                .statusCode(404)
                .body(
                        "error",
                        Matchers.equalTo(
                                doc.at("/components/responses/NoSandbox/content/application~1json/example/error")
                                        .asText()));
        given().get("/sandboxes/Bad")
                .then()
                .statusCode(400)
                .body(
                        "error",
                        Matchers.equalTo(doc.at("/components/responses/BadId/content/application~1json/example/error")
                                .asText()));
        given().get("/execute")
                .then()
                .statusCode(405)
                .body(
                        "error",
                        Matchers.equalTo(
                                doc.at("/components/responses/MethodNotAllowed/content/application~1json/example/error")
                                        .asText()));
    }

    @Test
    void documentedShapesAreTheOnesTheServiceSends() throws Exception {
        assertEquals(
                fieldNames(JSON.readTree(given().get("/").asString())),
                fieldNames(example("/", "get", "200")),
                "ping fields");
        JsonNode real = JSON.readTree(given().contentType(ContentType.JSON)
                .body("{\"code\": \"from IPython.display import display\\nprint('hello')\\ndisplay(2)\\n"
                        + "open('openapi-shape.txt', 'w').write('x')\\n1 / 0\"}")
                .post("/execute")
                .asString());
        assertEquals(fieldNames(doc.at("/components/schemas/ExecuteResponse/properties")), fieldNames(real));
        assertEquals(fieldNames(example("/execute", "post", "200")), fieldNames(real), "the example's fields");
        JsonNode usage = resolve(doc.at("/components/schemas/ExecuteResponse/properties/usage"));
        assertEquals(fieldNames(usage.path("properties")), fieldNames(real.path("usage")));
        JsonNode created = JSON.readTree(
                given().post("/sandboxes").then().statusCode(201).extract().asString());
        assertEquals(fieldNames(doc.at("/components/schemas/SandboxInfo/properties")), fieldNames(created));
        assertEquals(fieldNames(example("/sandboxes", "post", "201")), fieldNames(created));
        given().delete("/sandboxes/" + created.path("id").asText()).then().statusCode(204);
        Set<String> seen = new HashSet<>();
        for (JsonNode event : real.path("events")) {
            String type = event.path("type").asText();
            seen.add(type);
            String schema = doc.at("/components/schemas/Event/discriminator/mapping/" + type)
                    .asText();
            JsonNode declared = doc.at(schema.substring(1));
            assertEquals(fieldNames(declared.path("properties")), fieldNames(event), type);
            assertEquals(
                    fieldNames(resolve(declared.at("/properties/data")).path("properties")),
                    fieldNames(event.path("data")),
                    type);
            assertEquals(
                    fieldNames((declared.has("example") ? declared.get("example") : declared.at("/examples/0"))
                            .path("data")),
                    fieldNames(event.path("data")),
                    type + " example");
        }
        assertEquals(Set.of("stream", "display_data", "error", "file"), seen);
    }

    @Test
    void swaggerUiIsServed() {
        given().get("/q/swagger-ui/").then().statusCode(200).body(containsString("swagger"));
    }

    private static Set<String> fieldNames(JsonNode node) {
        Set<String> names = new HashSet<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        return names;
    }
}
