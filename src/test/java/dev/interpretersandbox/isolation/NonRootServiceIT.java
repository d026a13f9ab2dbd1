package dev.interpretersandbox.isolation;

import static dev.interpretersandbox.support.ServiceProcess.json;
import static dev.interpretersandbox.support.ServiceProcess.stdout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.interpretersandbox.files.Trees;
import dev.interpretersandbox.support.ServiceProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The service as the README's container runs it ({@code -u 10001}, process mode): not root, no
 * capability. Sandbox code then runs as the service's own user, and can leave directories their
 * owner may not write, as a Go module cache does, or not even read or search ({@code chmod 000},
 * {@code chmod 644}); deleting the sandbox must still leave nothing of it on disk.
 */
class NonRootServiceIT {

    private static final int UID = 10001;
    private static final String READ_ONLY_TREE = """
            import os
            os.makedirs("locked/inner")
            open("locked/inner/f", "w").write("x")
            os.chmod("locked/inner", 0)
            os.chmod("locked", 0)
            os.makedirs("listed/d")
            open("listed/d/f", "w").write("x")
            os.chmod("listed", 0o644)
            leaf = "go/pkg/mod/example.com/m@v1/sub"
            os.makedirs(leaf)
            open(leaf + "/f.go", "w").write("package sub\\n")
            while leaf != "go":
                os.chmod(leaf, 0o555)
                leaf = os.path.dirname(leaf)
            os.chmod(".", 0o555)
            print(os.getuid())
            """;

    private Path state;

    @BeforeEach
    void makeState() throws IOException, InterruptedException {
        // world-readable, as /var/lib is; owned by the service's user, as a volume mounted for it
        state = Files.createTempDirectory(
                Path.of("/var/tmp"),
                "non-root-it-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Process chown = new ProcessBuilder("chown", UID + ":" + UID, state.toString())
                .inheritIO()
                .start();
        assertTrue(chown.waitFor(10, TimeUnit.SECONDS) && chown.exitValue() == 0);
    }

    @AfterEach
    void removeState() {
        Trees.delete(state);
    }

    @Test
    void aSandboxWhoseCodeLeftReadOnlyAndUnreadableDirectoriesIsDeletedWhole() throws Exception {
        try (ServiceProcess service = ServiceProcess.startAs(UID, state, Map.of("SANDBOX_ISOLATION", "process"))) {
            assertEquals("process", json(service.get("/")).path("isolation").asText());
            String id = json(service.post("/sandboxes", "{}")).path("id").asText();
            JsonNode result = service.execute("/sandboxes/" + id, READ_ONLY_TREE);
            assertEquals(UID + "\n", stdout(result), result.toString());
            Path dir = state.resolve("sandboxes").resolve(id);
            assertTrue(Files.isRegularFile(dir.resolve("workspace/go/pkg/mod/example.com/m@v1/sub/f.go")));
            assertTrue(Files.isRegularFile(dir.resolve("workspace/locked/inner/f")));

            int status = service.send(HttpRequest.newBuilder(URI.create(service.url("/sandboxes/" + id)))
                            .DELETE())
                    .statusCode();
            assertEquals(204, status);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (Files.exists(dir, LinkOption.NOFOLLOW_LINKS) && System.nanoTime() < deadline) {
                Thread.sleep(50); // the teardown runs after the answer
            }
            assertFalse(
                    Files.exists(dir, LinkOption.NOFOLLOW_LINKS), "the sandbox's directory stayed:\n" + service.log());
        }
    }
}
