package dev.interpretersandbox.mcp;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkiverse.mcp.server.ImageContent;
import io.quarkiverse.mcp.server.test.McpAssured;
import io.quarkus.test.junit.QuarkusTest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The MCP tools through the extension's own test client (the official TypeScript one is McpSdkIT). */
@QuarkusTest
class McpToolsIT {

    @Test
    void toolsPythonFilesAndErrors() {
        McpAssured.McpStreamableTestClient client = McpAssured.newConnectedStreamableClient();
        client.when()
                .toolsList(page -> assertEquals(
                        List.of(
                                "execute_python",
                                "list_files",
                                "read_file",
                                "restart_kernel",
                                "run_command",
                                "write_file"),
                        page.tools().stream()
                                .map(McpAssured.ToolInfo::name)
                                .sorted()
                                .toList()))
                .thenAssertResults();
        // one call at a time: the extension's client sends a when() block's calls at once
        client.when()
                .toolsCall("execute_python", Map.of("code", "v = 6 * 7\nv"), r -> {
                    assertFalse(r.isError());
                    assertEquals("42\n", r.firstContent().asText().text());
                })
                .thenAssertResults();
        client.when()
                .toolsCall(
                        "execute_python",
                        Map.of("code", "v + 1"),
                        r -> assertEquals("43\n", r.firstContent().asText().text()))
                .thenAssertResults();
        client.when()
                .toolsCall(
                        "execute_python",
                        Map.of("code", "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"),
                        r -> assertTrue(r.content().stream()
                                .anyMatch(c -> c instanceof ImageContent image
                                        && image.mimeType().equals("image/png"))))
                .thenAssertResults();
        client.when()
                .toolsCall("execute_python", Map.of("code", "raise KeyError('k')"), r -> {
                    assertTrue(r.isError());
                    assertTrue(r.firstContent().asText().text().contains("KeyError: 'k'"));
                })
                .thenAssertResults();
        client.when()
                .toolsCall(
                        "write_file",
                        Map.of("path", "/mnt/data/t.txt", "content", "tee"),
                        r -> assertFalse(r.isError()))
                .thenAssertResults();
        client.when()
                .toolsCall(
                        "read_file",
                        Map.of("path", "/mnt/data/t.txt"),
                        r -> assertEquals("tee", r.firstContent().asText().text()))
                .thenAssertResults();
        client.when()
                .toolsCall("read_file", Map.of("path", "/mnt/data/../etc/passwd"), r -> assertTrue(r.isError()))
                .thenAssertResults();
        client.when()
                .toolsCall("list_files", Map.of("path", "/proc"), r -> {
                    assertTrue(r.isError());
                    assertTrue(r.firstContent().asText().text().contains("only files under /mnt/data"));
                })
                .thenAssertResults();
        client.when()
                .toolsCall("run_command", Map.of("cmd", "echo $((6 * 7))"), r -> {
                    assertFalse(r.isError());
                    assertEquals("42\n[exit code 0]", r.firstContent().asText().text());
                })
                .thenAssertResults();
        client.when()
                .toolsCall("restart_kernel", Map.of(), r -> assertFalse(r.isError()))
                .thenAssertResults();
        client.when()
                .toolsCall(
                        "execute_python",
                        Map.of("code", "'v' in globals()"),
                        r -> assertEquals("False\n", r.firstContent().asText().text()))
                .thenAssertResults();
        client.when()
                .toolsCall("no_such_tool")
                .withErrorAssert(e -> assertEquals(-32602, e.code()))
                .send()
                .thenAssertResults();
        client.when()
                .toolsCall(
                        "execute_python", Map.of("timeout_secs", 5), r -> assertTrue(r.isError(), "code is required"))
                .thenAssertResults();
        client.terminateSession();
    }

    @Test
    void aSandboxMadeOverRestCanBeNamed() {
        String id = given().body("{}")
                .post("/sandboxes")
                .then()
                .statusCode(201)
                .extract()
                .path("id");
        try {
            given().contentType("application/json")
                    .body("{\"code\": \"named = 1\"}")
                    .post("/sandboxes/" + id + "/execute")
                    .then()
                    .statusCode(200);
            McpAssured.McpStreamableTestClient client = McpAssured.newConnectedStreamableClient();
            client.when()
                    .toolsCall(
                            "execute_python",
                            Map.of("code", "named + 1", "sandbox_id", id),
                            r -> assertEquals("2\n", r.firstContent().asText().text()))
                    .toolsCall(
                            "execute_python",
                            Map.of("code", "1", "sandbox_id", "sb-nope"),
                            r -> assertTrue(r.isError()))
                    .thenAssertResults();
            client.terminateSession();
            given().get("/sandboxes/" + id).then().statusCode(200); // a named sandbox outlives the session
        } finally {
            given().delete("/sandboxes/" + id);
        }
    }
}
