package dev.interpretersandbox.e2b;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.support.ServiceProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official E2B JS SDK (@e2b/code-interpreter and e2b, pinned in compat/e2b) drives the
 * packaged service, unchanged: only E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY point it here.
 * The cases are node:test tests in compat/e2b/test (installed by deploy/install-test-deps.sh).
 */
class E2bSdkIT {

    private static final Path SUITE = Path.of("compat/e2b");
    private static final int CASES = 10;

    @TempDir
    Path state;

    @Test
    void theOfficialJsSdkRunsUnchangedAgainstTheService() throws Exception {
        assertTrue(
                Files.isDirectory(SUITE.resolve("node_modules/@e2b/code-interpreter")),
                "the SDK is installed: run deploy/install-test-deps.sh");
        String key = "e2b_" + HexFormat.of().formatHex(randomBytes());
        try (ServiceProcess service = ServiceProcess.start(
                state,
                Map.of(
                        "SANDBOX_E2B_ENABLED", "true",
                        "SANDBOX_E2B_API_KEYS", key,
                        "SANDBOX_SANDBOXES_POOL_SIZE", "1"))) {
            Path output = Files.createTempFile(state, "node-", ".tap");
            ProcessBuilder node = new ProcessBuilder(List.of("node", "--test", "test/"))
                    .directory(SUITE.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile());
            node.environment().put("E2B_API_URL", service.url("/e2b"));
            node.environment().put("E2B_SANDBOX_URL", service.url("/e2b/sandbox"));
            node.environment().put("E2B_API_KEY", key);
            Process run = node.start();
            boolean ended = run.waitFor(5, TimeUnit.MINUTES);
            if (!ended) {
                run.destroyForcibly();
            }
            String tap = Files.readString(output, StandardCharsets.UTF_8);
            assertTrue(ended, "the SDK suite finished within 5 minutes:\n" + tap);
            assertEquals(0, run.exitValue(), "every SDK case passed:\n" + tap + "\nservice log:\n" + tail(service));
            assertTrue(tap.contains("# pass " + CASES), "all " + CASES + " cases ran:\n" + tap);
        }
    }

    private static byte[] randomBytes() {
        byte[] bytes = new byte[16];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }

    private static String tail(ServiceProcess service) {
        String log = service.log();
        return log.length() > 8000 ? log.substring(log.length() - 8000) : log;
    }
}
