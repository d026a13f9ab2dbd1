package dev.interpretersandbox.isolation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.kernel.KernelLimits;
import io.quarkus.runtime.configuration.DurationConverter;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.runtime.configuration.MemorySizeConverter;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The OCI spec for the host allow-list and for a dedicated root filesystem (sandbox.rootfs). */
class OciSpecTest {

    static SandboxConfig config(Map<String, String> values) {
        SmallRyeConfig config = new SmallRyeConfigBuilder()
                .withMapping(SandboxConfig.class)
                .withConverter(MemorySize.class, 100, new MemorySizeConverter())
                .withConverter(Duration.class, 100, new DurationConverter())
                .withDefaultValues(values)
                .build();
        return config.getConfigMapping(SandboxConfig.class);
    }

    static List<String> destinations(JsonNode spec) {
        List<String> out = new ArrayList<>();
        spec.path("mounts").forEach(m -> out.add(m.path("destination").asText()));
        return out;
    }

    @Test
    void theHostAllowListBindsUsrReadOnly() {
        SandboxConfig config = config(Map.of());
        JsonNode spec = OciSpec.build(
                new ObjectMapper(),
                config,
                new OciSpec.Inputs(
                        Path.of("/s/rootfs"),
                        Path.of("/s/driver.py"),
                        true,
                        List.of("fonts"),
                        Path.of("/s/ws"),
                        "/x/kernel"),
                KernelLimits.defaults(config));
        assertEquals("/s/rootfs", spec.at("/root/path").asText());
        assertTrue(spec.at("/root/readonly").asBoolean());
        assertTrue(destinations(spec)
                .containsAll(List.of("/usr", "/etc/fonts", "/mnt/data", "/tmp", "/opt/sandbox/kernel_driver.py")));
        assertEquals("[]", spec.at("/process/capabilities/bounding").toString());
        assertEquals("/mnt/data", spec.at("/process/cwd").asText());
    }

    @Test
    void aDedicatedRootFilesystemBringsItsOwnUsr() {
        SandboxConfig config = config(Map.of("sandbox.rootfs", "/var/lib/sandbox-rootfs"));
        JsonNode spec = OciSpec.build(
                new ObjectMapper(),
                config,
                new OciSpec.Inputs(
                        config.rootfs().orElseThrow(),
                        Path.of("/s/driver.py"),
                        false,
                        List.of(),
                        Path.of("/s/ws"),
                        "/x/kernel"),
                KernelLimits.defaults(config));
        assertEquals("/var/lib/sandbox-rootfs", spec.at("/root/path").asText());
        assertFalse(destinations(spec).contains("/usr"), destinations(spec).toString());
        assertTrue(destinations(spec).containsAll(List.of("/mnt/data", "/opt/sandbox/kernel_driver.py")));
    }

    @Test
    void processModeRunsTheDriverUnderPrlimitSetprivAndSetsid() {
        SandboxConfig config = config(Map.of("sandbox.isolation", "process"));
        ProcessBackend launcher = new ProcessBackend(config, new ObjectMapper(), null, null, null);
        List<String> asRoot = launcher.command(true, KernelLimits.defaults(config));
        assertEquals("prlimit", asRoot.get(0));
        assertTrue(asRoot.contains("--as=" + (1L << 30) / 100 * 85), asRoot.toString());
        assertTrue(asRoot.containsAll(List.of("--reuid=10001", "--regid=10001", "--clear-groups", "--inh-caps=-all")));
        assertTrue(asRoot.indexOf("setsid") < asRoot.indexOf("/usr/bin/python3"));
        assertTrue(
                asRoot.stream().noneMatch(a -> a.startsWith("--nproc")), "NPROC would count other sandboxes' threads");
        List<String> unprivileged = launcher.command(false, KernelLimits.defaults(config));
        assertTrue(unprivileged.stream().noneMatch(a -> a.startsWith("--reuid")), "cannot change user without root");
        assertTrue(unprivileged.contains("--no-new-privs"));
    }
}
