package dev.interpretersandbox.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged service (target/quarkus-app) as a separate process, the way a user runs it: its own
 * state directory, port and settings. Tests that restart the service, kill it, or run several
 * instances use it. The process is its own process group, so a test can kill the whole group.
 */
public final class ServiceProcess implements AutoCloseable {

    public static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private final Process process;
    private final int port;
    private final Path log;

    private ServiceProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts the service on state with settings (environment variables) and waits until it is ready. */
    public static ServiceProcess start(Path state, Map<String, String> settings) throws IOException {
        return start(state, settings, List.of());
    }

    /**
     * The same, with the service placed in cgroups first: its process writes itself into each of
     * cgroupProcs (cgroup.procs files) before it becomes the JVM, as a pod or a unit would start it.
     */
    public static ServiceProcess start(Path state, Map<String, String> settings, List<Path> cgroupProcs)
            throws IOException {
        return start(state, settings, cgroupProcs, List.of());
    }

    /**
     * The same, as the user and group uid without any capability, as a container started with
     * {@code -u uid} (from a root test, through setpriv); state must be that user's.
     */
    public static ServiceProcess startAs(int uid, Path state, Map<String, String> settings) throws IOException {
        return start(
                state,
                settings,
                List.of(),
                List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--inh-caps=-all"));
    }

    private static ServiceProcess start(
            Path state, Map<String, String> settings, List<Path> cgroupProcs, List<String> runAs) throws IOException {
        int port = settings.containsKey("QUARKUS_HTTP_PORT")
                ? Integer.parseInt(settings.get("QUARKUS_HTTP_PORT"))
                : freePort();
        Path log = Files.createTempFile("service-", ".log");
        List<String> command = new ArrayList<>(List.of(
                "sh",
                "-c",
                "n=$1; shift; while [ \"$n\" -gt 0 ]; do echo $$ > \"$1\" || exit 1; shift; n=$((n-1)); done;"
                        + " exec setsid \"$@\"",
                "sh",
                Integer.toString(cgroupProcs.size())));
        cgroupProcs.forEach(file -> command.add(file.toString()));
        command.addAll(runAs);
        command.addAll(List.of(
                "java",
                "-Xmx384m",
                "-XX:+UseSerialGC",
                "-jar",
                JAR.toAbsolutePath().toString()));
        ProcessBuilder builder =
                new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = builder.environment();
        env.put("SANDBOX_STATE_DIR", state.toString());
        env.put("QUARKUS_HTTP_PORT", Integer.toString(port));
        env.put("SANDBOX_SANDBOXES_POOL_SIZE", "0");
        env.putAll(settings);
        ServiceProcess service = new ServiceProcess(builder.start(), port, log);
        service.awaitReady(Duration.ofSeconds(90));
        return service;
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    public String url(String path) {
        return "http://127.0.0.1:" + port + path;
    }

    private void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the service exited (" + process.exitValue() + "):\n" + log());
            }
            try {
                if (get("/q/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (UncheckedIOException e) {
                // not listening yet
            }
            sleep(100);
        }
        throw new IllegalStateException("the service did not become ready within " + timeout + ":\n" + log());
    }

    /** SIGTERM, as systemd or the kubelet sends; waits for the exit and returns its code. */
    public int terminate(Duration timeout) {
        process.destroy();
        return awaitExit(timeout);
    }

    /** SIGKILL of the service's JVM alone (its kernels' runsc processes stay). */
    public void kill() {
        process.destroyForcibly();
        awaitExit(Duration.ofSeconds(30));
    }

    /** SIGKILL of the service's whole process group, as an OOM kill of the container would do. */
    public void killGroup() throws IOException, InterruptedException {
        new ProcessBuilder("kill", "-KILL", "--", "-" + process.pid())
                .inheritIO()
                .start()
                .waitFor(10, TimeUnit.SECONDS);
        awaitExit(Duration.ofSeconds(30));
    }

    private int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("the service did not exit within " + timeout + ":\n" + log());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        return process.exitValue();
    }

    /** The service's output so far. */
    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    public HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(URI.create(url(path))).GET());
    }

    public HttpResponse<String> post(String path, String json) {
        return send(HttpRequest.newBuilder(URI.create(url(path)))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    public HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return HTTP.send(request.timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A request whose response body is read by the caller as it arrives. */
    public HttpResponse<InputStream> sendStream(HttpRequest.Builder request) {
        try {
            return HTTP.send(
                    request.timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** POST .../execute with code; the parsed JSON response (any status). */
    public JsonNode execute(String prefix, String code) {
        Map<String, Object> body = new HashMap<>();
        body.put("code", code);
        try {
            return JSON.readTree(
                    post(prefix + "/execute", JSON.writeValueAsString(body)).body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The stdout text of an execute response. */
    public static String stdout(JsonNode result) {
        StringBuilder out = new StringBuilder();
        for (JsonNode event : result.path("events")) {
            if (event.path("type").asText().equals("stream")
                    && event.path("data").path("name").asText().equals("stdout")) {
                out.append(event.path("data").path("text").asText());
            }
        }
        return out.toString();
    }

    /** The enames of an execute response's error events. */
    public static List<String> errors(JsonNode result) {
        List<String> names = new ArrayList<>();
        for (JsonNode event : result.path("events")) {
            if (event.path("type").asText().equals("error")) {
                names.add(event.path("data").path("ename").asText());
            }
        }
        return names;
    }

    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(90, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
