package dev.interpretersandbox.lifecycle;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** JSON logs as an option, and nothing a user sent (code, file contents) in them at INFO. */
@QuarkusTest
@TestProfile(JsonLogIT.Profile.class)
class JsonLogIT {

    static final Path LOG = Path.of("target/json-log-test.log");

    public static class Profile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            try {
                Files.deleteIfExists(LOG);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return Map.of(
                    "quarkus.log.file.enabled", "true",
                    "quarkus.log.file.path", LOG.toString(),
                    "quarkus.log.file.json.enabled", "true",
                    "sandbox.state-dir", "target/sandbox-state-json-log");
        }
    }

    @Test
    void logsAreJsonLinesWithoutUserCodeOrFileContents() throws Exception {
        String codeMarker = "CODE_MARKER_7f3a";
        String contentMarker = "FILE_CONTENT_91bc";
        given().contentType(ContentType.JSON)
                .body(Map.of("code", "secret = '" + codeMarker + "'\nprint(secret)\nraise ValueError(secret)"))
                .post("/execute")
                .then()
                .statusCode(200);
        given().contentType(ContentType.JSON)
                .body(Map.of("code", "import os\nos._exit(1)  # " + codeMarker))
                .post("/execute")
                .then()
                .statusCode(200);
        given().body(contentMarker.getBytes(StandardCharsets.UTF_8))
                .post("/files/upload/-/mnt/data/log-test.txt")
                .then()
                .statusCode(201);
        given().get("/files/download/-/mnt/data/log-test.txt").then().statusCode(200);

        List<String> lines = Files.readAllLines(LOG, StandardCharsets.UTF_8);
        assertTrue(lines.size() > 3, "the service logged its start and the kernel restart");
        ObjectMapper json = new ObjectMapper();
        boolean sawKernelLog = false;
        for (String line : lines) {
            JsonNode record = json.readTree(line);
            assertTrue(record.hasNonNull("message") && record.hasNonNull("level"), line);
            sawKernelLog |= record.path("loggerName").asText().startsWith("dev.interpretersandbox");
            assertFalse(line.contains(codeMarker), "user code in the log: " + line);
            assertFalse(line.contains(contentMarker), "file contents in the log: " + line);
        }
        assertTrue(sawKernelLog, "the service's own records are there");
    }
}
