package dev.interpretersandbox.agentsandbox;

import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.log.LogSafe;
import dev.interpretersandbox.sandbox.SandboxService;
import dev.interpretersandbox.sandbox.SandboxView;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.Scheduler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The seed's reaper, cluster-wide, for a pod of kubernetes-sigs/agent-sandbox: the pod keeps its
 * SandboxClaim's spec.lifecycle.shutdownTime (or, when no claim owns its Sandbox, the Sandbox's
 * spec.shutdownTime) at the default sandbox's last activity plus its idle timeout. The operator
 * deletes the pod at that time once it stops moving, as the service's own reaper would.
 *
 * <p>At most one patch per sandbox.agent-sandbox.sync-interval, and only when the time changed;
 * one more at shutdown. The API being unreachable is logged and retried at the next interval; it
 * never touches an execution. Needs a Role that allows get on sandboxes and patch on sandboxes and
 * sandboxclaims (k8s/agent-sandbox/rbac.yaml).
 *
 * <p>Thread-safety: sync runs on the scheduler's thread (skipped while a run is in progress) and
 * once at shutdown; its state is guarded by this object's lock.
 */
@ApplicationScoped
public class ShutdownTimeSync {

    static final ResourceDefinitionContext SANDBOXES = new ResourceDefinitionContext.Builder()
            .withGroup("agents.x-k8s.io")
            .withVersion("v1beta1")
            .withPlural("sandboxes")
            .withKind("Sandbox")
            .withNamespaced(true)
            .build();
    static final ResourceDefinitionContext CLAIMS = new ResourceDefinitionContext.Builder()
            .withGroup("extensions.agents.x-k8s.io")
            .withVersion("v1beta1")
            .withPlural("sandboxclaims")
            .withKind("SandboxClaim")
            .withNamespaced(true)
            .build();
    private static final Logger LOG = Logger.getLogger(ShutdownTimeSync.class);

    private final SandboxConfig.AgentSandbox settings;
    private final SandboxService sandboxes;
    private final Instance<KubernetesClient> clients;
    private final Clock clock;
    private Instant lastPatch; // when the last patch was made
    private Instant patched; // the shutdown time it set
    private boolean failing;

    ShutdownTimeSync(SandboxConfig config, SandboxService sandboxes, Instance<KubernetesClient> clients, Clock clock) {
        this.settings = config.agentSandbox();
        this.sandboxes = sandboxes;
        this.clients = clients;
        this.clock = clock;
    }

    void schedule(@Observes StartupEvent event, Scheduler scheduler) {
        if (!settings.enabled()) {
            return;
        }
        scheduler
                .newJob("agent-sandbox-shutdown-time")
                .setInterval(settings.syncInterval().toString())
                .setConcurrentExecution(Scheduled.ConcurrentExecution.SKIP)
                .setTask(execution -> sync(clock.instant(), false))
                .schedule();
    }

    /** Once more at shutdown: the last activity may be newer than the last patch. */
    void onShutdown(@Observes ShutdownDelayInitiatedEvent event) {
        if (settings.enabled()) {
            sync(clock.instant(), true);
        }
    }

    /** What the shutdown time should be now: the default sandbox's last activity plus its idle timeout. */
    Instant wanted() {
        SandboxView sandbox = sandboxes.defaultSandbox().view();
        return sandbox.lastActivity()
                .plus(sandbox.spec().idleTimeout())
                .truncatedTo(ChronoUnit.MILLIS); // RFC 3339, as a date-time field holds it
    }

    /**
     * Patches the shutdown time when it changed and the interval since the last patch is over (or
     * always at shutdown). Returns what was patched, if anything.
     */
    synchronized Optional<String> sync(Instant now, boolean shuttingDown) {
        Instant time = wanted();
        if (time.equals(patched)) {
            return Optional.empty();
        }
        if (!shuttingDown && lastPatch != null && now.isBefore(lastPatch.plus(settings.syncInterval()))) {
            return Optional.empty();
        }
        try {
            String target = patch(time);
            lastPatch = now;
            patched = time;
            if (failing) {
                LOG.infof("agent-sandbox: the Kubernetes API answers again");
                failing = false;
            }
            return Optional.of(target);
        } catch (RuntimeException e) {
            if (!failing) {
                LOG.warnf(
                        "agent-sandbox: cannot update the shutdown time (retried every %d s): %s",
                        settings.syncInterval().toSeconds(), LogSafe.quote(String.valueOf(e.getMessage())));
                failing = true;
            }
            return Optional.empty();
        }
    }

    /** Patches the claim that owns this pod's Sandbox, or the Sandbox; returns "Kind/name". */
    private String patch(Instant time) {
        KubernetesClient client = clients.get();
        String namespace = settings.namespace().orElseGet(client::getNamespace);
        String name = settings.name()
                .orElseGet(() -> Optional.ofNullable(System.getenv("HOSTNAME")).orElse(""));
        GenericKubernetesResource sandbox = client.genericKubernetesResources(SANDBOXES)
                .inNamespace(namespace)
                .withName(name)
                .get();
        if (sandbox == null) {
            throw new IllegalStateException("no Sandbox " + namespace + "/" + name);
        }
        Optional<String> claim = sandbox.getMetadata().getOwnerReferences().stream()
                .filter(owner -> owner.getKind().equals("SandboxClaim")
                        && owner.getApiVersion().startsWith("extensions.agents.x-k8s.io/"))
                .map(OwnerReference::getName)
                .findFirst();
        PatchContext merge = PatchContext.of(PatchType.JSON_MERGE);
        if (claim.isPresent()) {
            client.genericKubernetesResources(CLAIMS)
                    .inNamespace(namespace)
                    .withName(claim.get())
                    .patch(merge, "{\"spec\":{\"lifecycle\":{\"shutdownTime\":\"" + time + "\"}}}");
            return "SandboxClaim/" + claim.get();
        }
        client.genericKubernetesResources(SANDBOXES)
                .inNamespace(namespace)
                .withName(name)
                .patch(merge, "{\"spec\":{\"shutdownTime\":\"" + time + "\"}}");
        return "Sandbox/" + name;
    }
}
