package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Attacks on the file API: traversal by name, and symlinks planted by sandbox code that point
 * at host files. The service must neither read nor write anything outside the workspace.
 */
@QuarkusTest
class PathSafetyIT {

    @TestHTTPResource("/")
    URL base;

    /** A host file with a secret, outside every workspace. */
    private static Path hostSecret() throws Exception {
        Path dir = Path.of("target", "host-secrets").toAbsolutePath();
        Files.createDirectories(dir);
        Path secret = dir.resolve("secret.txt");
        Files.writeString(secret, "TOP-SECRET");
        return secret;
    }

    /** Sends a raw request line, so that no client normalises the path; returns the status line. */
    private String raw(String method, String rawPath) throws Exception {
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            OutputStream out = socket.getOutputStream();
            String body = method.equals("POST") ? "evil" : "";
            out.write((method + " " + rawPath + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + body.length()
                            + "\r\nConnection: close\r\n\r\n" + body)
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return response;
        }
    }

    /** A 400, 403 or 404 with an {"error": ...} body. */
    private static void assertRefused(String response) {
        String status = response.substring(9, 12);
        assertTrue(status.equals("400") || status.equals("403") || status.equals("404"), response);
        assertTrue(response.contains("{\"error\":"), response);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "/files/download/-/mnt/data/../../etc/passwd",
                "/files/download/-/mnt/data/%2e%2e/%2e%2e/etc/passwd",
                "/files/download/-/mnt/data/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
                "/files/download/-/mnt/data/..%2f..%2fetc%2fpasswd",
                "/files/download/-/mnt/data/./x",
                "/files/download/-/mnt/data/x%00.txt",
                "/files/download/-/mnt/data/a%0ab",
                "/files/download/-/etc/passwd",
                "/files/download/-/mnt/database/x",
                "/files/download/-/mnt/x",
                "/files/download/-/proc/self/environ",
            })
    void traversalByNameIsRefused(String path) throws Exception {
        String response = raw("GET", path);
        assertRefused(response);
        assertFalse(response.contains("root:x:0:0"), response);
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "/files/upload/-/mnt/data/../../tmp/evil-upload",
                "/files/upload/-/mnt/data/%2e%2e/%2e%2e/tmp/evil-upload",
                "/files/upload/-/tmp/evil-upload",
                "/files/upload/-/mnt/data/evil%00upload",
            })
    void uploadTraversalIsRefused(String path) throws Exception {
        String response = raw("POST", path);
        assertRefused(response);
        assertFalse(Files.exists(Path.of("/tmp/evil-upload")));
    }

    @Test
    void aPlantedFileSymlinkIsNotFollowed() throws Exception {
        Path secret = hostSecret();
        String link = "link-" + UUID.randomUUID();
        Api.run("import os\nos.symlink('" + secret + "', '" + link + "')\nos.symlink('/etc/passwd', '" + link
                + "-pw')");
        String body = given().get("/files/download/-/mnt/data/" + link)
                .then()
                .statusCode(403)
                .extract()
                .asString();
        assertFalse(body.contains("TOP-SECRET"));
        String pw = given().get("/files/download/-/mnt/data/" + link + "-pw")
                .then()
                .statusCode(403)
                .extract()
                .asString();
        assertFalse(pw.contains("root:x"));
        // Uploading onto the link neither follows it nor replaces it.
        given().body("overwritten")
                .post("/files/upload/-/mnt/data/" + link)
                .then()
                .statusCode(409);
        assertEquals("TOP-SECRET", Files.readString(secret));
    }

    @Test
    void aPlantedDirectorySymlinkIsNotFollowed() throws Exception {
        Path secret = hostSecret();
        String link = "dirlink-" + UUID.randomUUID();
        Api.run("import os\nos.symlink('" + secret.getParent() + "', '" + link + "')");
        given().get("/files/download/-/mnt/data/" + link + "/secret.txt")
                .then()
                .statusCode(403)
                .body("error", notNullValue());
        given().body("planted")
                .post("/files/upload/-/mnt/data/" + link + "/planted.txt")
                .then()
                .statusCode(403);
        given().body("planted")
                .post("/files/upload/-/mnt/data/" + link + "/new/dir/planted.txt")
                .then()
                .statusCode(403);
        assertFalse(Files.exists(secret.getParent().resolve("planted.txt")));
        assertFalse(Files.exists(secret.getParent().resolve("new")));
    }

    @Test
    void aSymlinkSwappedInWhileCodeRunsNeverLeaksHostFiles() throws Exception {
        // Code flips a directory and a symlink to a host directory as fast as it can while we
        // download through that name: every answer is the workspace file or an error, never the host's.
        Path secret = hostSecret();
        String name = "flip-" + UUID.randomUUID();
        Api.run("import os\nos.mkdir('" + name + "')\nopen('" + name + "/secret.txt', 'w').write('workspace copy')");
        String flipper = "import os, time, threading\n"
                + "def flip():\n"
                + "    end = time.time() + 4\n"
                + "    while time.time() < end:\n"
                + "        os.rename('" + name + "', '" + name + ".real')\n"
                + "        os.symlink('" + secret.getParent() + "', '" + name + "')\n"
                + "        os.remove('" + name + "')\n"
                + "        os.rename('" + name + ".real', '" + name + "')\n"
                + "threading.Thread(target=flip).start()\n";
        Api.run(flipper);
        long end = System.nanoTime() + 3_000_000_000L;
        while (System.nanoTime() < end) {
            var response = given().get("/files/download/-/mnt/data/" + name + "/secret.txt");
            String body = response.asString();
            assertFalse(body.contains("TOP-SECRET"), "leaked a host file");
            if (response.statusCode() == 200) {
                assertEquals("workspace copy", body);
            }
        }
        Api.execute("import time\ntime.sleep(1.5)"); // let the flipper finish before other tests
    }

    @Test
    void uploadsCannotEscapeThroughAPlantedLinkInTheMiddleOfThePath() throws Exception {
        Path target = Path.of("target", "host-secrets", "escape").toAbsolutePath();
        Files.createDirectories(target);
        String name = "mid-" + UUID.randomUUID();
        Api.run("import os\nos.makedirs('" + name + "')\nos.symlink('" + target + "', '" + name + "/sub')");
        given().body("x")
                .post("/files/upload/-/mnt/data/" + name + "/sub/file.txt")
                .then()
                .statusCode(403);
        try (var entries = Files.list(target)) {
            assertEquals(0, entries.count(), "nothing was written outside the workspace");
        }
    }
}
