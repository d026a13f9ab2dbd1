package dev.interpretersandbox.cluster;

import dev.interpretersandbox.config.SandboxConfig;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Who is who in fleet mode: this instance's name, the instance that owns the default sandbox,
 * which names are instances of this fleet, and where they are. A sandbox id made here ends with
 * ".<instance>", so any instance can tell the owner of an id without asking anyone.
 *
 * <p>An instance name is a DNS label. A name taken from an id is used only if it is an instance
 * of this fleet (in sandbox.cluster.peers, or an ordinal of this instance's StatefulSet), and
 * only through the peer-url template: a forged id never sends a request to an arbitrary host.
 *
 * <p>Thread-safety: immutable after construction.
 */
@ApplicationScoped
public class Fleet {

    /** A DNS label (RFC 1123), the form Kubernetes gives pod names. */
    static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    /** A StatefulSet pod name: the set's name, a dash, the ordinal. */
    private static final Pattern ORDINAL = Pattern.compile("(.+)-(0|[1-9][0-9]{0,5})");

    private final boolean enabled;
    private final String self;
    private final String defaultInstance;
    private final Optional<List<String>> peers;
    private final String template;
    private final int maxInstances;

    @Inject
    public Fleet(SandboxConfig config) {
        this(
                config.cluster().peerUrl(),
                config.cluster().instance().orElseGet(Fleet::hostName),
                config.cluster().defaultInstance(),
                config.cluster().peers(),
                config.cluster().maxInstances());
    }

    Fleet(
            Optional<String> peerUrl,
            String self,
            Optional<String> defaultInstance,
            Optional<List<String>> peers,
            int maxInstances) {
        this.enabled = peerUrl.isPresent();
        this.template = peerUrl.orElse("");
        this.self = self;
        this.maxInstances = maxInstances;
        this.peers = peers.map(List::copyOf);
        if (enabled) {
            if (!template.contains("{instance}")) {
                throw new IllegalArgumentException("sandbox.cluster.peer-url must contain {instance}: " + template);
            }
            requireLabel(self, "sandbox.cluster.instance");
            this.peers.ifPresent(list -> list.forEach(name -> requireLabel(name, "sandbox.cluster.peers")));
        }
        Matcher ordinal = ORDINAL.matcher(self);
        this.defaultInstance = defaultInstance.orElse(ordinal.matches() ? ordinal.group(1) + "-0" : self);
        if (enabled) {
            requireLabel(this.defaultInstance, "sandbox.cluster.default-instance");
        }
    }

    private static void requireLabel(String name, String setting) {
        if (!LABEL.matcher(name).matches()) {
            throw new IllegalArgumentException(setting + " must be a DNS label (a-z, 0-9, '-'): " + name);
        }
    }

    private static String hostName() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env.strip().toLowerCase(Locale.ROOT);
        }
        try {
            return InetAddress.getLocalHost().getHostName().toLowerCase(Locale.ROOT);
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** Whether fleet mode is on (sandbox.cluster.peer-url is set). */
    public boolean enabled() {
        return enabled;
    }

    /** This instance's name. */
    public String self() {
        return self;
    }

    public String defaultInstance() {
        return defaultInstance;
    }

    /** The suffix of ids made here: ".<instance>" in fleet mode, else nothing. */
    public String idSuffix() {
        return enabled ? "." + self : "";
    }

    /**
     * The instance that owns a sandbox id: the name after its last '.', the default instance for
     * "default", this instance for an id without one. Empty when the name is not an instance of
     * this fleet (a forged or foreign id: it is then looked up here, and not found).
     */
    public Optional<String> ownerOf(String sandboxId) {
        if (!enabled) {
            return Optional.of(self);
        }
        if (sandboxId.equals("default")) {
            return Optional.of(defaultInstance);
        }
        int dot = sandboxId.lastIndexOf('.');
        if (dot < 0) {
            return Optional.of(self);
        }
        String instance = sandboxId.substring(dot + 1);
        return isInstance(instance) ? Optional.of(instance) : Optional.empty();
    }

    /** Whether name is an instance of this fleet. */
    public boolean isInstance(String name) {
        if (name.equals(self)) {
            return true;
        }
        if (!LABEL.matcher(name).matches()) {
            return false;
        }
        if (peers.isPresent()) {
            return peers.get().contains(name);
        }
        Matcher mine = ORDINAL.matcher(self);
        Matcher theirs = ORDINAL.matcher(name);
        return mine.matches()
                && theirs.matches()
                && mine.group(1).equals(theirs.group(1))
                && Integer.parseInt(theirs.group(2)) < maxInstances;
    }

    /**
     * The other instances, in order: sandbox.cluster.peers, or this StatefulSet's ordinals from 0
     * (callers stop at the first ordinal that does not exist).
     */
    public List<String> others() {
        List<String> names = new ArrayList<>();
        if (peers.isPresent()) {
            peers.get().stream().filter(name -> !name.equals(self)).forEach(names::add);
            return names;
        }
        Matcher mine = ORDINAL.matcher(self);
        if (mine.matches()) {
            for (int i = 0; i < maxInstances; i++) {
                String name = mine.group(1) + "-" + i;
                if (!name.equals(self)) {
                    names.add(name);
                }
            }
        }
        return names;
    }

    /** Whether the others are a StatefulSet's ordinals (so the first missing one ends the list). */
    public boolean othersAreOrdinals() {
        return peers.isEmpty();
    }

    /** Where an instance of this fleet is reached. */
    public URI url(String instance) {
        if (!isInstance(instance)) {
            throw new IllegalArgumentException("not an instance of this fleet: " + instance);
        }
        return URI.create(template.replace("{instance}", instance));
    }
}
