package dev.interpretersandbox.deploy;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.interpretersandbox.config.SandboxConfig;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkus.runtime.configuration.MemorySizeConverter;
import io.quarkus.test.junit.QuarkusTest;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/**
 * Every deployment file (k8s/, deploy/, the Dockerfiles) parses and agrees with the app: the port
 * it listens on, probe paths that answer 200, environment variables the app really reads, files
 * that exist, and resources that fit the sandbox limits they set.
 */
@QuarkusTest
class DeploymentManifestsIT {

    private static final YAMLMapper YAML = new YAMLMapper();
    private static final Path ROOT = Path.of("").toAbsolutePath();

    static List<JsonNode> documents(Path file) throws IOException {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            while (it.hasNext()) {
                JsonNode doc = it.next();
                if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                    docs.add(doc);
                }
            }
        }
        return docs;
    }

    static List<Path> yamlFiles() throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path dir : List.of(ROOT.resolve("k8s"), ROOT.resolve("deploy"))) {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.filter(p -> p.toString().endsWith(".yaml")).sorted().forEach(files::add);
            }
        }
        return files;
    }

    /** What kustomize would apply for an overlay: its resources (recursively) plus its patches. */
    static List<JsonNode> kustomize(Path dir) throws IOException {
        JsonNode kustomization = documents(dir.resolve("kustomization.yaml")).get(0);
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode resource : kustomization.path("resources")) {
            Path path = dir.resolve(resource.asText()).normalize();
            assertTrue(Files.exists(path), dir + " names " + path);
            out.addAll(Files.isDirectory(path) ? kustomize(path) : documents(path));
        }
        for (JsonNode patch : kustomization.path("patches")) {
            Path path = dir.resolve(patch.path("path").asText()).normalize();
            assertTrue(Files.isRegularFile(path), dir + " patches with " + path);
            out.addAll(documents(path));
        }
        return out;
    }

    /** Environment-variable forms of every sandbox.* setting, from the config mapping itself. */
    static Set<String> sandboxVariables() {
        Set<String> names = new HashSet<>();
        collect(SandboxConfig.class, "sandbox", names);
        return names;
    }

    private static void collect(Class<?> type, String prefix, Set<String> names) {
        for (Method method : type.getDeclaredMethods()) {
            if (method.isDefault() || Modifier.isStatic(method.getModifiers())) {
                continue;
            }
            String key = prefix + "."
                    + method.getName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
            if (method.getReturnType().isInterface()
                    && method.getReturnType().getEnclosingClass() == SandboxConfig.class) {
                collect(method.getReturnType(), key, names);
            } else {
                names.add(env(key));
            }
        }
    }

    static String env(String property) {
        return property.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
    }

    static void assertReadByTheApp(String variable, String where) {
        if (variable.startsWith("SANDBOX_")) {
            assertTrue(sandboxVariables().contains(variable), where + ": " + variable + " is not a sandbox setting");
        } else if (variable.startsWith("QUARKUS_")) {
            boolean known = false;
            for (String name : ConfigProvider.getConfig().getPropertyNames()) {
                known |= env(name).equals(variable);
            }
            assertTrue(known, where + ": " + variable + " is not a Quarkus setting of this app");
        }
    }

    static int appPort() throws IOException {
        Properties properties = new Properties();
        try (var in = Files.newInputStream(ROOT.resolve("src/main/resources/application.properties"))) {
            properties.load(in);
        }
        return Integer.parseInt(properties.getProperty("quarkus.http.port"));
    }

    static List<JsonNode> containers(JsonNode doc) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode spec = doc.path("spec");
        for (JsonNode candidate : List.of(
                spec.path("containers"),
                spec.at("/template/spec/containers"),
                spec.at("/jobTemplate/spec/template/spec/containers"))) {
            candidate.forEach(out::add);
        }
        return out;
    }

    @Test
    void everyManifestParsesAndItsContainersMatchTheApp() throws Exception {
        int port = appPort();
        List<Path> files = yamlFiles();
        assertEquals(13, files.size(), "k8s base, overlays, example, deploy: " + files);
        Set<String> settings = sandboxVariables();
        assertTrue(
                settings.containsAll(Set.of(
                        "SANDBOX_LIMITS_MEMORY",
                        "SANDBOX_AUTH_TOKEN",
                        "SANDBOX_ISOLATION",
                        "SANDBOX_DEFAULT_WORKSPACE",
                        "SANDBOX_OUTPUT_MAX_STREAM_BYTES")),
                settings.toString());
        assertFalse(settings.contains("SANDBOX_LIMITS"), "groups are not settings");
        int checkedContainers = 0;
        for (Path file : files) {
            for (JsonNode doc : documents(file)) {
                assertTrue(doc.has("apiVersion") || doc.has("resources"), file + ": " + doc);
                for (JsonNode container : containers(doc)) {
                    if (!container.path("image").asText().startsWith("interpreter-sandbox")) {
                        continue; // the reaper's kubectl image
                    }
                    checkedContainers++;
                    checkContainer(file, container, port, false);
                }
            }
        }
        assertTrue(checkedContainers >= 3, "deployment, pod-per-sandbox, knative");
    }

    /** Ports, probes, variables; with a full container also resources and the workspace volume. */
    private void checkContainer(Path file, JsonNode container, int port, boolean complete) {
        for (JsonNode p : container.path("ports")) {
            assertEquals(port, p.path("containerPort").asInt(), file + " port");
        }
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            JsonNode get = container.path(probe).path("httpGet");
            if (get.isMissingNode()) {
                continue;
            }
            String path = get.path("path").asText();
            given().get(path).then().statusCode(200);
            assertTrue(path.startsWith("/q/health"), file + " " + probe + " uses a health endpoint: " + path);
            JsonNode probePort = get.path("port");
            assertTrue(
                    probePort.isMissingNode() || probePort.asText().equals("http") || probePort.asInt() == port,
                    file + " " + probe);
        }
        for (JsonNode variable : container.path("env")) {
            assertReadByTheApp(variable.path("name").asText(), file.toString());
        }
        if (!complete) {
            return;
        }
        long sandboxMemory = new MemorySizeConverter()
                .convert(envValue(container, "SANDBOX_LIMITS_MEMORY", "1G"))
                .asLongValue();
        long podMemory = quantity(container.at("/resources/limits/memory").asText());
        assertTrue(podMemory >= sandboxMemory + (256L << 20), file + ": pod memory covers the sandbox and the JVM");
        double cpus = Double.parseDouble(envValue(container, "SANDBOX_LIMITS_CPUS", "1"));
        assertTrue(
                cpuQuantity(container.at("/resources/limits/cpu").asText()) >= cpus,
                file + ": pod CPU covers the sandbox");
    }

    static String envValue(JsonNode container, String name, String fallback) {
        for (JsonNode variable : container.path("env")) {
            if (variable.path("name").asText().equals(name) && variable.has("value")) {
                return variable.path("value").asText();
            }
        }
        return fallback;
    }

    static long quantity(String value) {
        Matcher m = Pattern.compile("(\\d+)(Mi|Gi|Ki)?").matcher(value);
        assertTrue(m.matches(), "a memory quantity: " + value);
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2) == null ? "" : m.group(2)) {
            case "Ki" -> n << 10;
            case "Mi" -> n << 20;
            case "Gi" -> n << 30;
            default -> n;
        };
    }

    static double cpuQuantity(String value) {
        return value.endsWith("m")
                ? Integer.parseInt(value.substring(0, value.length() - 1)) / 1000.0
                : Double.parseDouble(value);
    }

    /** Merges the overlay's Deployment patch over the base the way kustomize would, for the fields we check. */
    static JsonNode deployment(List<JsonNode> docs) {
        JsonNode base = null;
        List<JsonNode> patches = new ArrayList<>();
        for (JsonNode doc : docs) {
            if (doc.path("kind").asText().equals("Deployment")) {
                if (base == null) {
                    base = doc.deepCopy();
                } else {
                    patches.add(doc);
                }
            }
        }
        assertTrue(base != null, "a Deployment");
        var container = (ObjectNode) base.at("/spec/template/spec/containers/0");
        var podSpec = (ObjectNode) base.at("/spec/template/spec");
        for (JsonNode patch : patches) {
            JsonNode patchSpec = patch.at("/spec/template/spec");
            patchSpec.fields().forEachRemaining(f -> {
                if (!f.getKey().equals("containers") && !f.getKey().equals("volumes")) {
                    podSpec.set(f.getKey(), f.getValue());
                }
            });
            if (patchSpec.path("volumes").isArray()) {
                podSpec.withArray("volumes")
                        .addAll((ArrayNode) patchSpec.get("volumes").deepCopy());
            }
            JsonNode patchContainer = patchSpec.path("containers").path(0);
            var env = container.withArray("env");
            for (JsonNode variable : patchContainer.path("env")) {
                for (int i = env.size() - 1; i >= 0; i--) {
                    if (env.get(i).path("name").equals(variable.path("name"))) {
                        env.remove(i);
                    }
                }
                env.add(variable);
            }
            if (patchContainer.has("securityContext")) {
                container.set("securityContext", patchContainer.get("securityContext"));
            }
            if (patchContainer.path("volumeMounts").isArray()) {
                container.withArray("volumeMounts").addAll((ArrayNode)
                        patchContainer.get("volumeMounts").deepCopy());
            }
        }
        return base;
    }

    @Test
    void runscInPodOverlayIsPrivilegedWithTheCgroupTree() throws Exception {
        List<JsonNode> docs = kustomize(ROOT.resolve("k8s/overlays/runsc-in-pod"));
        JsonNode deployment = deployment(docs);
        JsonNode container = deployment.at("/spec/template/spec/containers/0");
        assertEquals("runsc", envValue(container, "SANDBOX_ISOLATION", ""));
        assertTrue(container.at("/securityContext/privileged").asBoolean());
        assertTrue(container.path("volumeMounts").toString().contains("/sys/fs/cgroup"));
        checkContainer(Path.of("runsc-in-pod"), container, appPort(), true);
        checkCompanions(docs, deployment);
    }

    @Test
    void runtimeClassOverlayIsUnprivilegedProcessModeWithAReadOnlyRoot() throws Exception {
        List<JsonNode> docs = kustomize(ROOT.resolve("k8s/overlays/runtimeclass-gvisor"));
        JsonNode runtimeClass = docs.stream()
                .filter(d -> d.path("kind").asText().equals("RuntimeClass"))
                .findFirst()
                .orElseThrow();
        assertEquals("gvisor", runtimeClass.at("/metadata/name").asText());
        assertEquals("runsc", runtimeClass.path("handler").asText());
        JsonNode deployment = deployment(docs);
        JsonNode pod = deployment.at("/spec/template/spec");
        assertEquals("gvisor", pod.path("runtimeClassName").asText());
        assertTrue(pod.at("/securityContext/runAsNonRoot").asBoolean());
        JsonNode container = pod.path("containers").path(0);
        assertEquals("process", envValue(container, "SANDBOX_ISOLATION", ""));
        assertTrue(container.at("/securityContext/readOnlyRootFilesystem").asBoolean());
        assertFalse(container.at("/securityContext/privileged").asBoolean(false));
        assertEquals(
                "[\"ALL\"]", container.at("/securityContext/capabilities/drop").toString());
        checkContainer(Path.of("runtimeclass-gvisor"), container, appPort(), true);
        assertSameVolume(
                container,
                envValue(container, "SANDBOX_STATE_DIR", ""),
                envValue(container, "SANDBOX_DEFAULT_WORKSPACE", ""));
        checkCompanions(docs, deployment);
    }

    /** The default workspace must be on the state directory's filesystem: one volume holds both. */
    static void assertSameVolume(JsonNode container, String stateDir, String workspace) {
        String stateMount = mountOf(container, stateDir);
        assertEquals(stateMount, mountOf(container, workspace), "state dir and workspace on one volume");
    }

    private static String mountOf(JsonNode container, String path) {
        String best = null;
        for (JsonNode mount : container.path("volumeMounts")) {
            String at = mount.path("mountPath").asText();
            if ((path.equals(at) || path.startsWith(at + "/")) && (best == null || at.length() > best.length())) {
                best = at;
            }
        }
        assertTrue(best != null, path + " is on a volume");
        return best;
    }

    private void checkCompanions(List<JsonNode> docs, JsonNode deployment) {
        JsonNode labels = deployment.at("/spec/template/metadata/labels");
        String name = deployment.at("/metadata/name").asText();
        Set<String> kinds = new HashSet<>();
        for (JsonNode doc : docs) {
            String kind = doc.path("kind").asText();
            kinds.add(kind);
            switch (kind) {
                case "Service" -> assertEquals(labels, doc.at("/spec/selector"));
                case "PodDisruptionBudget", "NetworkPolicy" -> {
                    JsonNode selector = kind.equals("NetworkPolicy")
                            ? doc.at("/spec/podSelector/matchLabels")
                            : doc.at("/spec/selector/matchLabels");
                    assertEquals(labels, selector, kind);
                }
                case "HorizontalPodAutoscaler" ->
                    assertEquals(name, doc.at("/spec/scaleTargetRef/name").asText());
                default -> {}
            }
            if (kind.equals("NetworkPolicy")) {
                assertTrue(doc.at("/spec/policyTypes").toString().contains("Egress"));
                assertEquals(0, doc.at("/spec/egress").size(), "no egress at all");
            }
        }
        assertTrue(
                kinds.containsAll(Set.of(
                        "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "HorizontalPodAutoscaler")),
                kinds.toString());
    }

    @Test
    void podPerSandboxExampleAndKnativeServiceKeepStateAndWorkspaceTogether() throws Exception {
        List<JsonNode> example = documents(ROOT.resolve("k8s/examples/pod-per-sandbox.yaml"));
        JsonNode pod = example.get(0);
        JsonNode service = example.get(1);
        assertEquals(
                pod.at("/metadata/labels/interpreter-sandbox~1id"),
                service.at("/spec/selector/interpreter-sandbox~1id"));
        JsonNode container = pod.at("/spec/containers/0");
        checkContainer(Path.of("pod-per-sandbox"), container, appPort(), true);
        assertSameVolume(
                container,
                envValue(container, "SANDBOX_STATE_DIR", ""),
                envValue(container, "SANDBOX_DEFAULT_WORKSPACE", ""));
        assertTrue(example.toString().contains("last_activity"), "the idle reaper reads GET /'s last_activity");

        JsonNode knative =
                documents(ROOT.resolve("deploy/knative-service.yaml")).get(0);
        assertEquals("serving.knative.dev/v1", knative.path("apiVersion").asText());
        assertEquals(
                "0",
                knative.at("/spec/template/metadata/annotations/autoscaling.knative.dev~1min-scale")
                        .asText());
        JsonNode knativeContainer = knative.at("/spec/template/spec/containers/0");
        checkContainer(Path.of("knative"), knativeContainer, appPort(), true);
        assertSameVolume(
                knativeContainer,
                envValue(knativeContainer, "SANDBOX_STATE_DIR", ""),
                envValue(knativeContainer, "SANDBOX_DEFAULT_WORKSPACE", ""));
    }

    @Test
    void dockerfilesNameFilesThatExistAndServeTheAppPort() throws Exception {
        int port = appPort();
        for (Path dockerfile :
                List.of(ROOT.resolve("Dockerfile.native"), ROOT.resolve("src/main/docker/Dockerfile.jvm"))) {
            String text = Files.readString(dockerfile).replace("\\\n", " ");
            List<String> instructions = text.lines()
                    .map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                    .toList();
            assertTrue(instructions.get(0).startsWith("FROM "), dockerfile.toString());
            assertTrue(instructions.contains("EXPOSE " + port), dockerfile + " exposes " + port);
            String healthcheck = instructions.stream()
                    .filter(l -> l.startsWith("HEALTHCHECK"))
                    .findFirst()
                    .orElseThrow();
            assertTrue(healthcheck.contains("http://127.0.0.1:" + port + "/'"), dockerfile + ": HEALTHCHECK on GET /");
            assertTrue(text.contains("bookworm"), dockerfile + ": Debian bookworm runtime");
            for (String line : instructions) {
                if (line.startsWith("COPY ") && !line.contains("--from=")) {
                    String[] parts = line.replaceAll("--chown=\\S+", "").trim().split("\\s+");
                    for (int i = 1; i < parts.length - 1; i++) {
                        Path source = ROOT.resolve(parts[i]);
                        assertTrue(
                                parts[i].startsWith("target/") || Files.exists(source),
                                dockerfile + " copies " + parts[i]);
                    }
                }
                if (line.startsWith("ENV ")) {
                    Matcher m = Pattern.compile("([A-Z_][A-Z0-9_]*)=").matcher(line);
                    while (m.find()) {
                        assertReadByTheApp(m.group(1), dockerfile.toString());
                    }
                }
            }
        }
        String nativeFile = Files.readString(ROOT.resolve("Dockerfile.native"));
        assertTrue(nativeFile.contains("-Dnative") && nativeFile.contains("mandrel"), "a Mandrel native build stage");
        assertTrue(nativeFile.contains("/code/target/*-runner"), "copies the native runner");
    }

    /**
     * Seconds a graceful stop may take with a container's settings: the running executions' grace,
     * then (when sandboxes are durable) saving them all, then 10 s for the JVM.
     */
    static long stopSeconds(JsonNode container) {
        DurationConverter durations = new DurationConverter();
        long grace = durations
                .convert(envValue(container, "SANDBOX_SHUTDOWN_GRACE", setting("sandbox.shutdown.grace")))
                .toSeconds();
        boolean durable = Boolean.parseBoolean(
                envValue(container, "SANDBOX_SANDBOXES_DURABLE", setting("sandbox.sandboxes.durable")));
        long save = durable
                ? durations
                        .convert(envValue(
                                container, "SANDBOX_SHUTDOWN_SAVE_TIMEOUT", setting("sandbox.shutdown.save-timeout")))
                        .toSeconds()
                : 0;
        return grace + save + 10;
    }

    /** A setting's default (the prod profile's value, not the test profile's). */
    private static String setting(String name) {
        return switch (name) {
            case "sandbox.shutdown.grace" -> "20s";
            case "sandbox.shutdown.save-timeout" -> "60s";
            case "sandbox.sandboxes.durable" -> "true";
            default -> throw new IllegalArgumentException(name);
        };
    }

    @Test
    void everyPodGivesAGracefulStopItsTimeAndEmptyDirStateIsNotKept() throws Exception {
        List<JsonNode> pods = new ArrayList<>();
        for (Path overlay :
                List.of(ROOT.resolve("k8s/overlays/runsc-in-pod"), ROOT.resolve("k8s/overlays/runtimeclass-gvisor"))) {
            pods.add(deployment(kustomize(overlay)).at("/spec/template/spec"));
        }
        pods.add(documents(ROOT.resolve("k8s/examples/pod-per-sandbox.yaml"))
                .get(0)
                .path("spec"));
        for (JsonNode pod : pods) {
            JsonNode container = pod.path("containers").path(0);
            long needed = stopSeconds(container);
            assertTrue(
                    pod.path("terminationGracePeriodSeconds").asLong(30) >= needed,
                    "terminationGracePeriodSeconds " + pod.path("terminationGracePeriodSeconds") + " < " + needed);
            assertStateKeptOnlyWhereItLasts(pod, container);
        }
        JsonNode knative =
                documents(ROOT.resolve("deploy/knative-service.yaml")).get(0).at("/spec/template/spec");
        assertStateKeptOnlyWhereItLasts(knative, knative.path("containers").path(0));

        String unit = Files.readString(ROOT.resolve("deploy/interpreter-sandbox.service"));
        Matcher stop = Pattern.compile("(?m)^TimeoutStopSec=(\\d+)$").matcher(unit);
        assertTrue(stop.find(), "the unit sets TimeoutStopSec");
        assertTrue(Long.parseLong(stop.group(1)) >= stopSeconds(YAML.createObjectNode()), "TimeoutStopSec");
        assertTrue(unit.contains("StateDirectory=interpreter-sandbox"), "the state outlives the service");
    }

    /** Durable sandboxes need a state directory that outlives the pod; an emptyDir does not. */
    private static void assertStateKeptOnlyWhereItLasts(JsonNode pod, JsonNode container) {
        String stateDir = envValue(container, "SANDBOX_STATE_DIR", "/var/lib/interpreter-sandbox");
        String mount = mountOf(container, stateDir);
        String volumeName = null;
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("mountPath").asText().equals(mount)) {
                volumeName = m.path("name").asText();
            }
        }
        boolean emptyDir = false;
        for (JsonNode volume : pod.path("volumes")) {
            if (volume.path("name").asText().equals(volumeName) && volume.has("emptyDir")) {
                emptyDir = true;
            }
        }
        boolean durable = Boolean.parseBoolean(
                envValue(container, "SANDBOX_SANDBOXES_DURABLE", setting("sandbox.sandboxes.durable")));
        assertFalse(durable && emptyDir, "durable sandboxes on an emptyDir (" + volumeName + ") are lost with the pod");
    }

    @Test
    void systemdUnitRunsThePackagedAppWithRealSettings() throws Exception {
        String unit = Files.readString(ROOT.resolve("deploy/interpreter-sandbox.service"));
        assertTrue(unit.contains("ExecStart=/usr/bin/java") && unit.contains("quarkus-app/quarkus-run.jar"));
        assertTrue(unit.contains("Delegate=yes"), "runsc places sandboxes in cgroups");
        Matcher m = Pattern.compile("(?m)^Environment=([A-Z_][A-Z0-9_]*)=").matcher(unit);
        int found = 0;
        while (m.find()) {
            assertReadByTheApp(m.group(1), "systemd unit");
            found++;
        }
        assertTrue(found > 0);
    }
}
