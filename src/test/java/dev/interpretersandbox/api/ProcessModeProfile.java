package dev.interpretersandbox.api;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/**
 * sandbox.isolation=process, laid out as in the runtimeclass-gvisor overlay: the default
 * workspace is /mnt/data itself (on the host here; tests run as root), on the same filesystem as
 * the state directory, so code sees the same paths as under runsc.
 */
public class ProcessModeProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "sandbox.isolation", "process",
                "sandbox.state-dir", "target/sandbox-state-process",
                "sandbox.default-workspace", "/mnt/data");
    }
}
