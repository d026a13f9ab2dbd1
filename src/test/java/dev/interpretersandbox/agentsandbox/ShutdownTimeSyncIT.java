package dev.interpretersandbox.agentsandbox;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The seed's reaper through agent-sandbox: the pod moves its claim's (or its Sandbox's) shutdown
 * time to last activity + idle timeout, no more often than the interval, and an API that fails
 * costs nothing but a log line. Against the fabric8 Kubernetes mock server in CRUD mode; real
 * runsc for the executions.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@TestProfile(ShutdownTimeSyncIT.AgentSandboxProfile.class)
class ShutdownTimeSyncIT {

    public static class AgentSandboxProfile implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of(
                    "sandbox.agent-sandbox.enabled", "true",
                    "sandbox.agent-sandbox.name", "sbx-1",
                    "sandbox.agent-sandbox.namespace", "tenants",
                    "sandbox.agent-sandbox.sync-interval", "1h", // the test calls sync with its own times
                    "sandbox.idle-timeout", "30m",
                    "sandbox.state-dir", "target/sandbox-state-agent-sandbox");
        }
    }

    @KubernetesTestServer
    KubernetesMockServer server;

    @Inject
    KubernetesClient client;

    @Inject
    ShutdownTimeSync sync;

    private GenericKubernetesResource sandbox(String name, Optional<String> claim) {
        GenericKubernetesResourceBuilder builder = new GenericKubernetesResourceBuilder()
                .withApiVersion("agents.x-k8s.io/v1beta1")
                .withKind("Sandbox")
                .withNewMetadata()
                .withName(name)
                .withNamespace("tenants")
                .endMetadata()
                .addToAdditionalProperties(
                        "spec", Map.of("podTemplate", Map.of("spec", Map.of("containers", List.of()))));
        claim.ifPresent(owner -> builder.editMetadata()
                .withOwnerReferences(new OwnerReferenceBuilder()
                        .withApiVersion("extensions.agents.x-k8s.io/v1beta1")
                        .withKind("SandboxClaim")
                        .withName(owner)
                        .withUid("uid-" + owner)
                        .build())
                .endMetadata());
        return client.genericKubernetesResources(ShutdownTimeSync.SANDBOXES)
                .inNamespace("tenants")
                .resource(builder.build())
                .createOr(existing -> existing.update());
    }

    private String specField(GenericKubernetesResource resource, String... path) {
        Object node = resource.getAdditionalProperties().get("spec");
        for (String key : path) {
            node = node instanceof Map<?, ?> map ? map.get(key) : null;
        }
        return node == null ? null : node.toString();
    }

    /** Runs code and waits until the sandbox is idle again (its last activity is final then). */
    private void execute(String code) {
        given().contentType("application/json")
                .body(Map.of("code", code))
                .post("/execute")
                .then()
                .statusCode(200);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!given().get("/").jsonPath().getString("state").equals("idle")) {
            assertTrue(System.nanoTime() < deadline, "the sandbox settles");
            Thread.onSpinWait();
        }
    }

    @Test
    void theSandboxsShutdownTimeFollowsActivityAtMostOncePerInterval() {
        sandbox("sbx-1", Optional.empty());
        execute("x = 1");
        Instant now = Instant.now();
        assertEquals(Optional.of("Sandbox/sbx-1"), sync.sync(now, false));
        GenericKubernetesResource patched = client.genericKubernetesResources(ShutdownTimeSync.SANDBOXES)
                .inNamespace("tenants")
                .withName("sbx-1")
                .get();
        assertEquals(sync.wanted().toString(), specField(patched, "shutdownTime"));
        Instant expected = Instant.parse(specField(patched, "shutdownTime"));
        assertTrue(
                Duration.between(now.plus(Duration.ofMinutes(30)), expected)
                                .abs()
                                .toSeconds()
                        <= 5,
                "last activity + the 30 min idle timeout: " + expected);

        execute("x = 2"); // new activity, but the interval is not over
        assertEquals(Optional.empty(), sync.sync(now.plusSeconds(10), false));
        assertEquals(
                Optional.of("Sandbox/sbx-1"),
                sync.sync(now.plus(Duration.ofHours(1)).plusSeconds(1), false));
        assertEquals(Optional.empty(), sync.sync(now.plus(Duration.ofHours(3)), false), "nothing changed: no patch");
    }

    @Test
    void aClaimedSandboxMovesItsClaimsShutdownTimeAndAFailingApiCostsNothing() {
        client.genericKubernetesResources(ShutdownTimeSync.CLAIMS)
                .inNamespace("tenants")
                .resource(new GenericKubernetesResourceBuilder()
                        .withApiVersion("extensions.agents.x-k8s.io/v1beta1")
                        .withKind("SandboxClaim")
                        .withNewMetadata()
                        .withName("claim-1")
                        .withNamespace("tenants")
                        .endMetadata()
                        .addToAdditionalProperties("spec", Map.of("warmPoolRef", Map.of("name", "pool")))
                        .build())
                .createOr(existing -> existing.update());
        sandbox("sbx-1", Optional.of("claim-1"));
        execute("y = 1");
        assertEquals(
                Optional.of("SandboxClaim/claim-1"), sync.sync(Instant.now().plus(Duration.ofDays(1)), true));
        GenericKubernetesResource claim = client.genericKubernetesResources(ShutdownTimeSync.CLAIMS)
                .inNamespace("tenants")
                .withName("claim-1")
                .get();
        assertEquals(sync.wanted().toString(), specField(claim, "lifecycle", "shutdownTime"));

        client.genericKubernetesResources(ShutdownTimeSync.SANDBOXES)
                .inNamespace("tenants")
                .withName("sbx-1")
                .delete();
        execute("y = 2");
        assertEquals(Optional.empty(), sync.sync(Instant.now().plus(Duration.ofDays(2)), true), "no Sandbox: logged");
        execute("print(y)"); // executions are untouched
    }
}
