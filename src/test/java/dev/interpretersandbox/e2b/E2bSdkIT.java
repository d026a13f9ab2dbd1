package dev.interpretersandbox.e2b;

import dev.interpretersandbox.support.NodeSuite;
import dev.interpretersandbox.support.ServiceProcess;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official E2B JS SDK (@e2b/code-interpreter and e2b, pinned in compat/e2b) drives the
 * packaged service, unchanged: only E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY point it here.
 * The cases are node:test tests in compat/e2b/test.
 */
class E2bSdkIT {

    @TempDir
    Path state;

    @Test
    void theOfficialJsSdkRunsUnchangedAgainstTheService() throws Exception {
        byte[] random = new byte[16];
        ThreadLocalRandom.current().nextBytes(random);
        String key = "e2b_" + HexFormat.of().formatHex(random);
        try (ServiceProcess service = ServiceProcess.start(
                state,
                Map.of(
                        "SANDBOX_E2B_ENABLED", "true",
                        "SANDBOX_E2B_API_KEYS", key,
                        "SANDBOX_SANDBOXES_POOL_SIZE", "1"))) {
            NodeSuite.run(
                    Path.of("compat/e2b"),
                    "@e2b/code-interpreter",
                    11,
                    Map.of(
                            "E2B_API_URL", service.url("/e2b"),
                            "E2B_SANDBOX_URL", service.url("/e2b/sandbox"),
                            "E2B_API_KEY", key),
                    service);
        }
    }
}
