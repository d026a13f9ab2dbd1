package dev.interpretersandbox.deploy;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.interpretersandbox.config.SandboxConfig;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkus.runtime.configuration.MemorySizeConverter;
import io.quarkus.test.junit.QuarkusTest;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/**
 * Every deployment file (k8s/, deploy/, the Dockerfiles, the systemd unit) is what the app and
 * the platforms expect: Kubernetes objects parse strictly as typed objects (a misspelled field
 * fails), agent-sandbox objects validate against its CRD schemas, the containers use the app's
 * port, probe paths that answer 200 and settings the app reads, every NetworkPolicy selects the
 * pods it is meant for, process-mode pods hold one sandbox, stop timeouts fit a graceful
 * shutdown, images are pinned, and the Dockerfiles build what they copy.
 */
@QuarkusTest
class DeploymentManifestsIT {

    private static final YAMLMapper YAML = new YAMLMapper();
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final KubernetesSerialization KUBERNETES = new KubernetesSerialization();

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

    /** What kustomize would apply for a directory: its resources (recursively) with its patches merged. */
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
            for (JsonNode doc : documents(path)) {
                JsonNode target = out.stream()
                        .filter(d -> d.path("kind").equals(doc.path("kind"))
                                && d.at("/metadata/name").equals(doc.at("/metadata/name")))
                        .findFirst()
                        .orElseThrow(() -> new AssertionError(path + " patches nothing in " + dir));
                mergePatch((ObjectNode) target, doc);
            }
        }
        return out;
    }

    /** A strategic merge patch, for what our patches use: maps merge, containers/env by name, other lists append. */
    private static void mergePatch(ObjectNode target, JsonNode patch) {
        patch.fields().forEachRemaining(field -> {
            JsonNode existing = target.get(field.getKey());
            JsonNode value = field.getValue();
            if (existing instanceof ObjectNode object && value.isObject()) {
                mergePatch(object, value);
            } else if (existing instanceof ArrayNode array && value.isArray()) {
                for (JsonNode item : value) {
                    JsonNode same = null;
                    for (JsonNode candidate : array) {
                        if (item.has("name") && candidate.path("name").equals(item.path("name"))) {
                            same = candidate;
                        }
                    }
                    if (same instanceof ObjectNode object && !field.getKey().equals("env")) {
                        mergePatch(object, item);
                    } else {
                        if (same != null) {
                            for (int i = 0; i < array.size(); i++) {
                                if (array.get(i) == same) {
                                    array.remove(i);
                                    break;
                                }
                            }
                        }
                        array.add(item.deepCopy());
                    }
                }
            } else {
                target.set(field.getKey(), value.deepCopy());
            }
        });
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

    /** The pod specs of a document: a Pod's, a workload's template, a CronJob's, a SandboxTemplate's, Knative's. */
    static List<JsonNode> podSpecs(JsonNode doc) {
        List<JsonNode> out = new ArrayList<>();
        JsonNode spec = doc.path("spec");
        for (JsonNode candidate : List.of(
                spec,
                spec.at("/template/spec"),
                spec.at("/jobTemplate/spec/template/spec"),
                spec.at("/podTemplate/spec"))) {
            if (candidate.has("containers")) {
                out.add(candidate);
            }
        }
        return out;
    }

    /** Pod labels of a document's pod template (or a Pod's own). */
    static JsonNode podLabels(JsonNode doc) {
        if (doc.path("kind").asText().equals("Pod")) {
            return doc.at("/metadata/labels");
        }
        for (String pointer : List.of(
                "/spec/template/metadata/labels",
                "/spec/jobTemplate/spec/template/metadata/labels",
                "/spec/podTemplate/metadata/labels")) {
            if (!doc.at(pointer).isMissingNode()) {
                return doc.at(pointer);
            }
        }
        return YAML.createObjectNode();
    }

    static String envValue(JsonNode container, String name, String fallback) {
        for (JsonNode variable : container.path("env")) {
            if (variable.path("name").asText().equals(name) && variable.has("value")) {
                return variable.path("value").asText();
            }
        }
        return fallback;
    }

    /** The sets of manifests applied together: each overlay as kustomize renders it, and each standalone file. */
    static Map<String, List<JsonNode>> manifestSets() throws IOException {
        Map<String, List<JsonNode>> sets = new HashMap<>();
        sets.put("k8s/overlays/runsc-in-pod", kustomize(ROOT.resolve("k8s/overlays/runsc-in-pod")));
        sets.put("k8s/overlays/runtimeclass-gvisor", kustomize(ROOT.resolve("k8s/overlays/runtimeclass-gvisor")));
        List<JsonNode> agent = kustomize(ROOT.resolve("k8s/agent-sandbox"));
        agent.addAll(documents(ROOT.resolve("k8s/agent-sandbox/sandbox-claim.yaml")));
        sets.put("k8s/agent-sandbox", agent);
        sets.put("k8s/examples/pod-per-sandbox.yaml", documents(ROOT.resolve("k8s/examples/pod-per-sandbox.yaml")));
        sets.put("deploy/knative-service.yaml", documents(ROOT.resolve("deploy/knative-service.yaml")));
        sets.put("k8s/runtimeclass/gvisor.yaml", documents(ROOT.resolve("k8s/runtimeclass/gvisor.yaml")));
        return sets;
    }

    @Test
    void everyKubernetesObjectParsesStrictlyAsItsTypeAndAgentSandboxObjectsMatchTheCrds() throws Exception {
        List<Path> files = yamlFiles();
        int typed = 0;
        int custom = 0;
        for (Path file : files) {
            for (JsonNode doc : documents(file)) {
                String kind = doc.path("kind").asText();
                if (kind.equals("Kustomization")) {
                    continue;
                }
                assertTrue(doc.has("apiVersion"), file + ": " + doc);
                if (doc.path("apiVersion").asText().contains("agents.x-k8s.io")) {
                    assertValid(file, doc);
                    custom++;
                    continue;
                }
                Object parsed = KUBERNETES.unmarshal(YAML.writeValueAsString(doc));
                assertTrue(parsed instanceof HasMetadata, file + ": not a Kubernetes object: " + kind);
                if (parsed instanceof GenericKubernetesResource) {
                    assertEquals(
                            "serving.knative.dev/v1", doc.path("apiVersion").asText(), file + ": unknown kind " + kind);
                    continue; // Knative's Service: checked field by field below
                }
                List<String> unknown = new ArrayList<>();
                unknownFields(parsed, kind, unknown, new IdentityHashMap<>());
                assertEquals(List.of(), unknown, file + ": fields Kubernetes does not know");
                typed++;
            }
        }
        assertTrue(typed >= 20, "typed objects checked: " + typed);
        assertEquals(3, custom, "SandboxTemplate, SandboxWarmPool, SandboxClaim");
    }

    /** Every field a typed fabric8 object did not map (its additionalProperties), by path. */
    private static void unknownFields(Object object, String path, List<String> unknown, Map<Object, Boolean> seen)
            throws InvocationTargetException, IllegalAccessException {
        if (object == null || seen.containsKey(object)) {
            return;
        }
        if (object instanceof Collection<?> items) {
            int i = 0;
            for (Object item : items) {
                unknownFields(item, path + "[" + i++ + "]", unknown, seen);
            }
            return;
        }
        if (object instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> entry : map.entrySet()) {
                unknownFields(entry.getValue(), path + "." + entry.getKey(), unknown, seen);
            }
            return;
        }
        if (!object.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
            return;
        }
        seen.put(object, true);
        for (Method method : object.getClass().getMethods()) {
            if (method.getParameterCount() != 0 || Modifier.isStatic(method.getModifiers())) {
                continue;
            }
            String name = method.getName();
            if (name.equals("getAdditionalProperties")) {
                Map<?, ?> extra = (Map<?, ?>) method.invoke(object);
                if (extra != null && !extra.isEmpty()) {
                    unknown.add(path + ": " + extra.keySet());
                }
            } else if (name.startsWith("get") && !name.equals("getClass")) {
                unknownFields(method.invoke(object), path + "." + name.substring(3), unknown, seen);
            }
        }
    }

    private static final Map<String, JsonSchema> SCHEMAS = new HashMap<>();

    /** Validates an agent-sandbox object against its CRD's schema, with unknown fields refused. */
    private static void assertValid(Path file, JsonNode doc) throws IOException {
        String kind = doc.path("kind").asText();
        JsonSchema schema = SCHEMAS.computeIfAbsent(kind, DeploymentManifestsIT::schemaOf);
        Set<ValidationMessage> errors = schema.validate(new ObjectMapper().valueToTree(doc));
        assertEquals(Set.of(), errors, file + ": " + kind + " does not match the agent-sandbox CRD");
    }

    private static JsonSchema schemaOf(String kind) {
        try (Stream<Path> crds = Files.list(Path.of("src/test/resources/agent-sandbox-crds"))) {
            for (Path crd : crds.filter(p -> p.toString().endsWith(".yaml")).toList()) {
                JsonNode definition = documents(crd).get(0);
                if (!definition.at("/spec/names/kind").asText().equals(kind)) {
                    continue;
                }
                for (JsonNode version : definition.at("/spec/versions")) {
                    if (version.path("name").asText().equals("v1beta1")) {
                        JsonNode schema = version.at("/schema/openAPIV3Schema").deepCopy();
                        closeObjects(schema);
                        return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V7)
                                .getSchema(schema);
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        throw new AssertionError("no CRD for " + kind);
    }

    /**
     * The API server prunes fields a structural schema does not name, silently: refusing them here
     * is what catches a misspelled field.
     */
    private static void closeObjects(JsonNode schema) {
        if (schema instanceof ObjectNode object) {
            if (object.has("properties")
                    && !object.has("additionalProperties")
                    && !object.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)) {
                object.put("additionalProperties", false);
            }
            object.elements().forEachRemaining(DeploymentManifestsIT::closeObjects);
        } else if (schema instanceof ArrayNode array) {
            array.forEach(DeploymentManifestsIT::closeObjects);
        }
    }

    @Test
    void everyContainerUsesTheAppsPortProbesAndSettingsAndFitsItsSandboxes() throws Exception {
        int port = appPort();
        int checked = 0;
        for (Map.Entry<String, List<JsonNode>> set : manifestSets().entrySet()) {
            for (JsonNode doc : set.getValue()) {
                for (JsonNode pod : podSpecs(doc)) {
                    for (JsonNode container : pod.path("containers")) {
                        checkContainer(set.getKey(), container, port);
                        checked++;
                    }
                }
            }
        }
        assertTrue(checked >= 6, "fleet, single, agent-sandbox, per-client pod and reaper, knative: " + checked);
    }

    /** Ports, probes, variables, and for the service's containers resources that fit the sandboxes. */
    private void checkContainer(String where, JsonNode container, int port) {
        String image = container.path("image").asText();
        assertTrue(
                image.matches("[a-z0-9./-]+:[A-Za-z0-9._-]+") && !image.endsWith(":latest"),
                where + ": pinned " + image);
        for (JsonNode variable : container.path("env")) {
            assertReadByTheApp(variable.path("name").asText(), where);
        }
        if (!image.startsWith("interpreter-sandbox:")) {
            return;
        }
        assertEquals("interpreter-sandbox:" + projectVersion(), image, where + ": the image of this version");
        if (container.has("command")) {
            return; // the reaper: our image, another program
        }
        for (JsonNode p : container.path("ports")) {
            assertEquals(port, p.path("containerPort").asInt(), where + " port");
        }
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            JsonNode get = container.path(probe).path("httpGet");
            if (get.isMissingNode()) {
                assertEquals("startupProbe", probe, where + " has a " + probe);
                continue;
            }
            String path = get.path("path").asText();
            given().get(path).then().statusCode(200);
            assertTrue(path.startsWith("/q/health"), where + " " + probe + " uses a health endpoint: " + path);
        }
        long sandboxMemory = new MemorySizeConverter()
                .convert(envValue(container, "SANDBOX_LIMITS_MEMORY", "1G"))
                .asLongValue();
        long podMemory = quantity(container.at("/resources/limits/memory").asText());
        long budget = podMemory / 100 * 80;
        assertTrue(budget >= sandboxMemory, where + ": 80 % of the pod's memory holds one sandbox");
        double cpus = Double.parseDouble(envValue(container, "SANDBOX_LIMITS_CPUS", "1"));
        assertTrue(cpuQuantity(container.at("/resources/limits/cpu").asText()) >= cpus, where + ": CPU for a sandbox");
    }

    private static String projectVersion() {
        try {
            Matcher version = Pattern.compile(
                            "<artifactId>interpreter-sandbox</artifactId>\\s*<version>([^<]+)</version>")
                    .matcher(Files.readString(ROOT.resolve("pom.xml")));
            assertTrue(version.find());
            return version.group(1).replace("-SNAPSHOT", "");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
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

    @Test
    void everyNetworkPolicySelectsThePodsOfItsSetAndEveryPodIsCovered() throws Exception {
        for (Map.Entry<String, List<JsonNode>> set : manifestSets().entrySet()) {
            List<JsonNode> pods = new ArrayList<>();
            List<JsonNode> policies = new ArrayList<>();
            boolean managedByTemplate = false;
            for (JsonNode doc : set.getValue()) {
                if (doc.path("kind").asText().equals("NetworkPolicy")) {
                    policies.add(doc.at("/spec/podSelector/matchLabels"));
                } else if (!podSpecs(doc).isEmpty()) {
                    pods.add(podLabels(doc));
                    managedByTemplate |= doc.path("kind").asText().equals("SandboxTemplate")
                            && doc.at("/spec/networkPolicyManagement").asText().equals("Managed")
                            && doc.at("/spec/networkPolicy").isObject();
                }
            }
            for (JsonNode selector : policies) {
                assertFalse(selector.isEmpty(), set.getKey() + ": a policy for every pod of the namespace");
                assertTrue(
                        pods.stream().anyMatch(labels -> selects(selector, labels)),
                        set.getKey() + ": " + selector + " selects none of " + pods);
            }
            for (JsonNode labels : pods) {
                assertTrue(
                        managedByTemplate || policies.stream().anyMatch(selector -> selects(selector, labels)),
                        set.getKey() + ": no NetworkPolicy covers pods labelled " + labels);
            }
        }
    }

    private static boolean selects(JsonNode selector, JsonNode labels) {
        var fields = selector.fields();
        while (fields.hasNext()) {
            var field = fields.next();
            if (!labels.path(field.getKey()).equals(field.getValue())) {
                return false;
            }
        }
        return true;
    }

    @Test
    void processModePodsHoldOneSandboxAndNoPoolAndOnlyTheFleetForwards() throws Exception {
        int processMode = 0;
        for (Map.Entry<String, List<JsonNode>> set : manifestSets().entrySet()) {
            for (JsonNode doc : set.getValue()) {
                for (JsonNode pod : podSpecs(doc)) {
                    JsonNode container = pod.path("containers").path(0);
                    if (!envValue(container, "SANDBOX_ISOLATION", "runsc").equals("process")) {
                        continue;
                    }
                    processMode++;
                    assertEquals("1", envValue(container, "SANDBOX_SANDBOXES_MAX_COUNT", "200"), set.getKey());
                    assertEquals("0", envValue(container, "SANDBOX_SANDBOXES_POOL_SIZE", "2"), set.getKey());
                    assertEquals(
                            "", envValue(container, "SANDBOX_CLUSTER_PEER_URL", ""), set.getKey() + ": not a fleet");
                    assertEquals("gvisor", pod.path("runtimeClassName").asText(), set.getKey());
                }
            }
        }
        assertEquals(4, processMode, "single, agent-sandbox, per-client, knative");

        JsonNode fleet = kustomize(ROOT.resolve("k8s/overlays/runsc-in-pod")).stream()
                .filter(d -> d.path("kind").asText().equals("StatefulSet"))
                .findFirst()
                .orElseThrow();
        JsonNode container = fleet.at("/spec/template/spec/containers/0");
        String peers = fleet.at("/spec/serviceName").asText();
        assertEquals(
                "http://{instance}." + peers + ":" + appPort(), envValue(container, "SANDBOX_CLUSTER_PEER_URL", ""));
        assertEquals("$(POD_NAME)", envValue(container, "SANDBOX_CLUSTER_INSTANCE", ""), "each pod is its instance");
        JsonNode headless = kustomize(ROOT.resolve("k8s/overlays/runsc-in-pod")).stream()
                .filter(d -> d.path("kind").asText().equals("Service")
                        && d.at("/metadata/name").asText().equals(peers))
                .findFirst()
                .orElseThrow();
        assertEquals("None", headless.at("/spec/clusterIP").asText());
        assertTrue(headless.at("/spec/publishNotReadyAddresses").asBoolean(), "every existing pod resolves");
        assertEquals(
                "state", fleet.at("/spec/volumeClaimTemplates/0/metadata/name").asText(), "a volume per pod");
    }

    /** Seconds a graceful stop may take with a container's settings: grace, saving (when durable), 10 s. */
    static long stopSeconds(JsonNode container) {
        DurationConverter durations = new DurationConverter();
        long grace = durations
                .convert(envValue(container, "SANDBOX_SHUTDOWN_GRACE", "20s"))
                .toSeconds();
        boolean durable = Boolean.parseBoolean(envValue(container, "SANDBOX_SANDBOXES_DURABLE", "true"));
        long save = durable
                ? durations
                        .convert(envValue(container, "SANDBOX_SHUTDOWN_SAVE_TIMEOUT", "60s"))
                        .toSeconds()
                : 0;
        return grace + save + 10;
    }

    @Test
    void everyPodGivesAGracefulStopItsTimeAndOnlyVolumesThatLastHoldDurableSandboxes() throws Exception {
        for (Map.Entry<String, List<JsonNode>> set : manifestSets().entrySet()) {
            for (JsonNode doc : set.getValue()) {
                for (JsonNode pod : podSpecs(doc)) {
                    JsonNode container = pod.path("containers").path(0);
                    if (!container.path("image").asText().startsWith("interpreter-sandbox:")
                            || container.has("command")) {
                        continue;
                    }
                    if (!doc.path("apiVersion").asText().startsWith("serving.knative.dev")) {
                        long needed = stopSeconds(container);
                        assertTrue(
                                pod.path("terminationGracePeriodSeconds").asLong(30) >= needed,
                                set.getKey() + ": terminationGracePeriodSeconds < " + needed);
                    }
                    boolean durable = Boolean.parseBoolean(envValue(container, "SANDBOX_SANDBOXES_DURABLE", "true"));
                    String state = envValue(container, "SANDBOX_STATE_DIR", "/var/lib/interpreter-sandbox");
                    String volume = volumeOf(container, state);
                    boolean emptyDir = false;
                    for (JsonNode v : pod.path("volumes")) {
                        emptyDir |= v.path("name").asText().equals(volume) && v.has("emptyDir");
                    }
                    assertFalse(
                            durable && emptyDir,
                            set.getKey() + ": durable sandboxes on an emptyDir are lost with the pod");
                    String workspace = envValue(container, "SANDBOX_DEFAULT_WORKSPACE", "");
                    if (!workspace.isEmpty()) {
                        assertEquals(
                                volume,
                                volumeOf(container, workspace),
                                set.getKey() + ": workspace and state on one volume");
                    }
                }
            }
        }
        String unit = Files.readString(ROOT.resolve("deploy/interpreter-sandbox.service"));
        Matcher stop = Pattern.compile("(?m)^TimeoutStopSec=(\\d+)$").matcher(unit);
        assertTrue(stop.find(), "the unit sets TimeoutStopSec");
        assertTrue(Long.parseLong(stop.group(1)) >= stopSeconds(YAML.createObjectNode()), "TimeoutStopSec");
        assertTrue(unit.contains("StateDirectory=interpreter-sandbox"), "the state outlives the service");
        assertTrue(unit.contains("\nEnvironment=LANG=C.UTF-8\n"), "a UTF-8 locale, which systemd does not give");
    }

    private static String volumeOf(JsonNode container, String path) {
        String best = null;
        String name = null;
        for (JsonNode mount : container.path("volumeMounts")) {
            String at = mount.path("mountPath").asText();
            if ((path.equals(at) || path.startsWith(at + "/")) && (best == null || at.length() > best.length())) {
                best = at;
                name = mount.path("name").asText();
            }
        }
        assertTrue(name != null, path + " is on a volume");
        return name;
    }

    @Test
    void knativeServiceIsValidForKnativesDefaults() throws Exception {
        JsonNode knative =
                documents(ROOT.resolve("deploy/knative-service.yaml")).get(0);
        JsonNode spec = knative.at("/spec/template/spec");
        assertTrue(spec.path("timeoutSeconds").asInt() <= 600, "max-revision-timeout-seconds is 600 by default");
        assertEquals(
                "1",
                knative.at("/spec/template/metadata/annotations/autoscaling.knative.dev~1max-scale")
                        .asText(),
                "one pod: one tenant's sandbox");
        long maxTimeout = new DurationConverter()
                .convert(envValue(spec.at("/containers/0"), "SANDBOX_EXECUTE_MAX_TIMEOUT", "1h"))
                .toSeconds();
        assertTrue(maxTimeout < spec.path("timeoutSeconds").asInt(), "an execution ends before Knative cuts it");
    }

    @Test
    void dockerfilesBuildWhatTheyCopyAndRunTheAppUnderTini() throws Exception {
        int port = appPort();
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        String installed = Files.readString(ROOT.resolve("deploy/install-runtime.sh"));
        for (Path dockerfile :
                List.of(ROOT.resolve("Dockerfile.native"), ROOT.resolve("src/main/docker/Dockerfile.jvm"))) {
            String text = Files.readString(dockerfile).replace("\\\n", " ");
            List<String> instructions = text.lines()
                    .map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                    .toList();
            for (String from :
                    instructions.stream().filter(l -> l.startsWith("FROM ")).toList()) {
                String image = from.split("\\s+")[1];
                assertTrue(image.contains(":") && !image.endsWith(":latest"), dockerfile + ": pinned " + image);
            }
            assertTrue(instructions.contains("EXPOSE " + port), dockerfile + " exposes " + port);
            assertTrue(
                    instructions.stream().anyMatch(l -> l.startsWith("ENV ") && l.contains(" LANG=C.UTF-8 ")),
                    dockerfile + ": a UTF-8 locale, or non-ASCII file names are refused");
            String entrypoint = instructions.stream()
                    .filter(l -> l.startsWith("ENTRYPOINT"))
                    .findFirst()
                    .orElseThrow();
            assertTrue(entrypoint.startsWith("ENTRYPOINT [\"/usr/bin/tini\", \"--\""), dockerfile + ": tini is PID 1");
            assertTrue(
                    installed.contains(" tini") && installed.contains("test -x /usr/bin/tini"), "the image has tini");
            String healthcheck = instructions.stream()
                    .filter(l -> l.startsWith("HEALTHCHECK"))
                    .findFirst()
                    .orElseThrow();
            assertTrue(
                    healthcheck.contains("\"python3\"") && installed.contains(" python3 "),
                    dockerfile + ": its check runs");
            assertTrue(healthcheck.contains("http://127.0.0.1:" + port + "/'"), dockerfile + ": HEALTHCHECK on GET /");
            for (String line : instructions) {
                if (line.startsWith("COPY ") && !line.contains("--from=")) {
                    String[] parts = line.replaceAll("--chown=\\S+", "").trim().split("\\s+");
                    for (int i = 1; i < parts.length - 1; i++) {
                        assertTrue(
                                parts[i].startsWith("target/") || Files.exists(ROOT.resolve(parts[i])),
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
        // The native image: the build's -Dnative turns on the pom's native profile, which makes target/*-runner.
        String nativeFile = Files.readString(ROOT.resolve("Dockerfile.native"));
        assertTrue(nativeFile.contains("./mvnw -B package -Dnative") && nativeFile.contains("mandrel"));
        assertTrue(nativeFile.contains("COPY --from=build /code/target/*-runner"));
        Matcher profile = Pattern.compile(
                        "<id>native</id>\\s*<activation>\\s*<property>\\s*<name>native</name>[\\s\\S]*?"
                                + "<quarkus.native.enabled>true</quarkus.native.enabled>")
                .matcher(pom);
        assertTrue(profile.find(), "-Dnative activates a profile that sets quarkus.native.enabled");
        // The JVM image copies what ./mvnw package makes here.
        assertTrue(Files.exists(ROOT.resolve("target/quarkus-app/quarkus-run.jar")));
        String ci = Files.readString(ROOT.resolve(".ci/run"));
        assertTrue(ci.contains("-Dnative -Dquarkus.native.sources-only=true"), "CI checks the native build's inputs");
    }

    @Test
    void systemdUnitRunsTheJavaTheInstallScriptChose() throws Exception {
        String unit = Files.readString(ROOT.resolve("deploy/interpreter-sandbox.service"));
        String install = Files.readString(ROOT.resolve("deploy/install-runtime.sh"));
        Matcher exec = Pattern.compile("(?m)^ExecStart=(\\S+) .*quarkus-app/quarkus-run.jar$")
                .matcher(unit);
        assertTrue(exec.find(), unit);
        assertTrue(
                install.contains("ln -sfn \"$java_bin\" " + exec.group(1)),
                "install-runtime.sh links " + exec.group(1));
        if (Files.exists(Path.of(exec.group(1)))) { // this host ran install-runtime.sh (CI does)
            Process version = new ProcessBuilder(exec.group(1), "-version")
                    .redirectErrorStream(true)
                    .start();
            assertTrue(version.waitFor(30, TimeUnit.SECONDS));
            assertTrue(new String(version.getInputStream().readAllBytes()).contains("version \"17")
                    || version.exitValue() == 0);
        }
        assertTrue(unit.contains("Delegate=yes") && unit.contains("KillMode=mixed"));
        Matcher m = Pattern.compile("(?m)^Environment=([A-Z_][A-Z0-9_]*)=").matcher(unit);
        int found = 0;
        while (m.find()) {
            assertReadByTheApp(m.group(1), "systemd unit");
            found++;
        }
        assertTrue(found > 0);
        String rootfs = Files.readString(ROOT.resolve("deploy/build-rootfs.sh"));
        assertTrue(
                rootfs.indexOf("apt-get update") >= 0
                        && rootfs.indexOf("apt-get update")
                                < rootfs.indexOf("apt-get install -y -q --no-install-recommends debootstrap"),
                "the package lists are fresh before debootstrap is installed");
    }

    @Test
    void podPerSandboxReaperReapsIdleAndBrokenPods() throws Exception {
        JsonNode configMap = documents(ROOT.resolve("k8s/examples/pod-per-sandbox.yaml")).stream()
                .filter(d -> d.path("kind").asText().equals("ConfigMap"))
                .findFirst()
                .orElseThrow();
        Path script = Files.createTempFile("reaper", ".py");
        Files.writeString(script, configMap.at("/data/reaper.py").asText());
        Process test = new ProcessBuilder("/usr/bin/python3", "src/test/python/test_idle_reaper.py", script.toString())
                .redirectErrorStream(true)
                .start();
        String output = new String(test.getInputStream().readAllBytes());
        assertTrue(test.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, test.exitValue(), output);
        assertTrue(output.contains("Ran 3 tests"), output);
        Files.delete(script);
    }
}
