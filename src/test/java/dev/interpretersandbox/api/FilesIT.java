package dev.interpretersandbox.api;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.support.Fifos;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

@QuarkusTest
class FilesIT {

    @Inject
    SandboxConfig config;

    @TestHTTPResource("/")
    URL base;

    private static String unique(String name) {
        return "/mnt/data/" + UUID.randomUUID() + "-" + name;
    }

    @Test
    void uploadThenCodeSeesItThenDownloadIsIdentical() {
        byte[] content = new byte[300_000];
        new Random(7).nextBytes(content);
        String path = unique("blob.bin");
        given().body(content)
                .post("/files/upload/-" + path)
                .then()
                .statusCode(201)
                .body("path", equalTo(path))
                .body("size", equalTo(content.length));
        assertEquals(String.valueOf(content.length), Api.run("import os\nprint(os.path.getsize('" + path + "'))"));
        Response download = given().get("/files/download/-" + path);
        download.then()
                .statusCode(200)
                .header("Content-Length", String.valueOf(content.length))
                .header("Content-Type", "application/octet-stream");
        assertArrayEquals(content, download.asByteArray());
    }

    @Test
    void uploadIsCreateOnly() {
        String path = unique("once.txt");
        given().body("first").post("/files/upload/-" + path).then().statusCode(201);
        given().body("second")
                .post("/files/upload/-" + path)
                .then()
                .statusCode(409)
                .body("error", equalTo("file already exists"));
        assertEquals("first", given().get("/files/download/-" + path).asString());
    }

    @Test
    void uploadCreatesParentsAndTheSandboxUserOwnsEverything() {
        String dir = "/mnt/data/" + UUID.randomUUID() + "/deep/er";
        given().body("data").post("/files/upload/-" + dir + "/f.txt").then().statusCode(201);
        String out = Api.run("import os\n"
                + "st = os.stat('" + dir + "/f.txt')\n"
                + "print(st.st_uid == os.getuid(), os.stat('" + dir + "').st_uid == os.getuid())\n"
                + "open('" + dir + "/f.txt', 'a').write('+more')\n"
                + "print(open('" + dir + "/f.txt').read())\n"
                + "os.remove('" + dir + "/f.txt'); os.rmdir('" + dir + "')\n"
                + "print(os.path.exists('" + dir + "'))");
        assertEquals("True True\ndata+more\nFalse", out);
    }

    @Test
    void downloadOfMissingFileIs404() {
        given().get("/files/download/-/mnt/data/" + UUID.randomUUID())
                .then()
                .statusCode(404)
                .body("error", equalTo("file not found"));
    }

    @Test
    void directoriesFifosAndDevicesAre400() throws Exception {
        String dir = "d-" + UUID.randomUUID();
        Api.run("import os\nos.mkdir('" + dir + "')");
        given().get("/files/download/-/mnt/data/" + dir)
                .then()
                .statusCode(400)
                .body("error", containsString("directory"));
        given().get("/files/download/-/mnt/data").then().statusCode(400);
        // gVisor keeps FIFOs made inside the sandbox to itself, so make them on the host side of
        // the workspace, as a hostile host-side process or a future runtime could.
        Path workspace = StateLayout.of(config).workspace("default").resolve(dir);
        run("mkfifo", workspace.resolve("fifo").toString());
        run("mknod", workspace.resolve("null-device").toString(), "c", "1", "3");
        try {
            given().get("/files/download/-/mnt/data/" + dir + "/fifo")
                    .then()
                    .statusCode(400)
                    .body("error", containsString("not a regular file"));
            given().get("/files/download/-/mnt/data/" + dir + "/null-device")
                    .then()
                    .statusCode(400)
                    .body("error", containsString("not a regular file"));
        } finally {
            Files.deleteIfExists(workspace.resolve("fifo"));
            Files.deleteIfExists(workspace.resolve("null-device"));
        }
    }

    @Test
    void fifosSwappedInWhileTheApiOpensNeverHoldIt() throws Exception {
        // As in process mode, where sandbox code works on the host's files: a FIFO swapped in by
        // rename(2) for a file being downloaded, and for a directory on a download's path. An open
        // of a FIFO for reading waits for a writer, so every request must still answer.
        String dir = "race-" + UUID.randomUUID();
        Api.run("import os\nos.makedirs('" + dir + "/d')");
        Path at = StateLayout.of(config).workspace("default").resolve(dir);
        Files.writeString(at.resolve("f"), "regular");
        Files.writeString(at.resolve("d/x"), "inside");
        Path fileFifo = Fifos.make(at.resolve("fifo-f"));
        Path dirFifo = Fifos.make(at.resolve("fifo-d"));
        HttpClient client =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        int served = 0;
        int refused = 0;
        try (Fifos.Swapper file = new Fifos.Swapper(at.resolve("f"), fileFifo, at.resolve("spare-f"));
                Fifos.Swapper directory = new Fifos.Swapper(at.resolve("d"), dirFifo, at.resolve("spare-d"))) {
            for (int i = 0; i < 300; i++) {
                for (String name : new String[] {"f", "d/x"}) {
                    HttpResponse<String> response = client.send(
                            HttpRequest.newBuilder(URI.create(base + "files/download/-/mnt/data/" + dir + "/" + name))
                                    .timeout(Duration.ofSeconds(30))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (response.statusCode() == 200) {
                        assertEquals(name.equals("f") ? "regular" : "inside", response.body());
                        served++;
                    } else {
                        assertTrue(Set.of(400, 404, 409).contains(response.statusCode()), response.body());
                        assertTrue(response.body().startsWith("{\"error\""), response.body());
                        refused++;
                    }
                }
            }
            assertTrue(file.swaps() > 10 && directory.swaps() > 10, "the swappers ran");
        } finally {
            for (Path fifo : List.of(fileFifo, dirFifo, at.resolve("f"), at.resolve("d"))) {
                Fifos.release(fifo);
            }
            try (Stream<Path> left = Files.walk(at)) {
                for (Path path : left.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(path);
                }
            }
        }
        assertTrue(served > 0 && refused > 0, "served " + served + ", refused " + refused);
    }

    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).inheritIO().start();
        assertEquals(0, process.waitFor(), String.join(" ", command));
    }

    @Test
    void contentTypesAreDetected() {
        Api.run("import base64, json\n"
                + "import matplotlib.pyplot as plt\n"
                + "fig = plt.figure(); plt.plot([1,2]); fig.savefig('ct-plot.png'); plt.close(fig)\n"
                + "open('ct.csv', 'w').write('a,b\\n1,2\\n')\n"
                + "open('ct.json', 'w').write(json.dumps({'a': 1}))\n"
                + "open('ct-noext', 'w').write('plain words')\n"
                + "open('ct-binary', 'wb').write(bytes(range(256)))\n"
                + "open('ct-png-noext', 'wb').write(open('ct-plot.png', 'rb').read())");
        expectType("ct-plot.png", "image/png");
        expectType("ct.csv", "text/csv");
        expectType("ct.json", "application/json");
        expectType("ct-noext", "text/plain");
        expectType("ct-binary", "application/octet-stream");
        expectType("ct-png-noext", "image/png");
    }

    private static void expectType(String name, String type) {
        String actual = given().get("/files/download/-/mnt/data/" + name)
                .then()
                .statusCode(200)
                .extract()
                .contentType();
        assertTrue(actual.startsWith(type), name + ": " + actual);
    }

    @Test
    void unicodeNamesRoundTripAndAreRfc5987Encoded() {
        String name = "résumé 数据 " + UUID.randomUUID() + ".txt";
        String path = "/mnt/data/" + name;
        given().body("unicode").post("/files/upload/-" + path).then().statusCode(201);
        assertEquals("True", Api.run("import os\nprint(os.path.exists(" + pyString(path) + "))"));
        Response download = given().get("/files/download/-" + path);
        download.then().statusCode(200);
        String disposition = download.header("Content-Disposition");
        assertTrue(
                disposition.startsWith("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%95%B0%E6%8D%AE%20"),
                disposition);
        assertEquals("unicode", download.asString());
    }

    private static String pyString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    @Test
    void oneGibUploadStreamsToDiskAndTheWorkspaceLimitHolds() throws Exception {
        // Surefire runs this JVM with -Xmx768m: a 1 GiB body held in memory would fail.
        // Fill the workspace (1 GiB in tests) exactly: about 1 GiB, less what other tests left.
        long used = Long.parseLong(Api.run("import os, stat\n"
                + "used = 0\n"
                + "for d, _, fs in os.walk('/mnt/data'):\n"
                + "    for f in fs:\n"
                + "        try:\n"
                + "            st = os.lstat(os.path.join(d, f))\n"
                + "        except OSError:\n"
                + "            continue\n"
                + "        used += st.st_size if stat.S_ISREG(st.st_mode) else 0\n"
                + "print(used)"));
        long gib = (1L << 30) - used;
        assertTrue(gib > 1000L << 20, "the workspace is nearly empty: " + used);
        String path = unique("big.bin");
        HttpClient client =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "files/upload/-" + path))
                .POST(HttpRequest.BodyPublishers.fromPublisher(
                        HttpRequest.BodyPublishers.ofInputStream(() -> new ZeroStream(gib)), gib))
                .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        try {
            assertEquals(201, response.statusCode(), response.body());
            assertEquals(String.valueOf(gib), Api.run("import os\nprint(os.path.getsize('" + path + "'))"));
            // ... and the download streams too.
            HttpResponse<InputStream> download = client.send(
                    HttpRequest.newBuilder(URI.create(base + "files/download/-" + path))
                            .build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, download.statusCode());
            assertEquals(
                    String.valueOf(gib),
                    download.headers().firstValue("Content-Length").orElseThrow());
            long received = 0;
            try (InputStream in = download.body()) {
                byte[] buffer = new byte[1 << 20];
                int n;
                while ((n = in.read(buffer)) > 0) {
                    received += n;
                }
            }
            assertEquals(gib, received);
            // The workspace (1 GiB in tests) is now full: the next upload is refused and leaves nothing.
            String next = unique("one-more.txt");
            given().body("x".repeat(4096))
                    .post("/files/upload/-" + next)
                    .then()
                    .statusCode(413)
                    .body("error", containsString("does not fit"));
            given().get("/files/download/-" + next).then().statusCode(404);
        } finally {
            Api.run("import os\nos.remove('" + path + "')");
        }
    }

    @Test
    void aChunkedUploadOverTheWorkspaceLimitLeavesNoPartialFile() throws Exception {
        long tooBig = (1L << 30) + 1;
        String path = unique("chunked.bin");
        HttpClient client =
                HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "files/upload/-" + path))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ZeroStream(tooBig)))
                .build();
        int status;
        try {
            status = client.send(request, HttpResponse.BodyHandlers.ofString()).statusCode();
        } catch (IOException e) {
            status = 413; // the server may close the connection while we still send
        }
        assertEquals(413, status);
        given().get("/files/download/-" + path).then().statusCode(404);
        assertEquals("False", Api.run("import os\nprint(os.path.exists('" + path + "'))"));
    }

    /** count zero bytes, generated on the fly. */
    static final class ZeroStream extends InputStream {
        private long remaining;

        ZeroStream(long count) {
            this.remaining = count;
        }

        @Override
        public int read() {
            if (remaining <= 0) {
                return -1;
            }
            remaining--;
            return 0;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (remaining <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, remaining);
            Arrays.fill(b, off, off + n, (byte) 0);
            remaining -= n;
            return n;
        }
    }

    @Test
    void emptyUploadsWork() {
        String path = unique("empty.txt");
        given().body(new byte[0])
                .post("/files/upload/-" + path)
                .then()
                .statusCode(201)
                .body("size", equalTo(0));
        assertEquals(
                "",
                given().get("/files/download/-" + path)
                        .then()
                        .statusCode(200)
                        .extract()
                        .asString());
    }
}
