package dev.interpretersandbox.api;

import io.quarkus.test.junit.QuarkusTestProfile;
import java.util.Map;

/** A short idle timeout for the reaper and a one-slot execution queue. */
public class ShortIdleProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of(
                "sandbox.idle-timeout", "3s",
                "sandbox.reaper-interval", "1s",
                "sandbox.execute.queue-size", "1",
                "sandbox.state-dir", "target/sandbox-state-short-idle");
    }
}
