package dev.interpretersandbox.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A node:test suite under compat/ (an official client SDK, pinned and installed by
 * deploy/install-test-deps.sh) run against a running service: every case must pass, and all of
 * them must have run.
 */
public final class NodeSuite {

    private NodeSuite() {}

    public static void run(Path suite, String sdk, int cases, Map<String, String> env, ServiceProcess service)
            throws Exception {
        assertTrue(
                Files.isDirectory(suite.resolve("node_modules").resolve(sdk)),
                sdk + " is installed: run deploy/install-test-deps.sh");
        Path output = Files.createTempFile("node-", ".tap");
        try {
            ProcessBuilder node = new ProcessBuilder(List.of("node", "--test", "test/"))
                    .directory(suite.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile());
            node.environment().putAll(env);
            Process run = node.start();
            boolean ended = run.waitFor(5, TimeUnit.MINUTES);
            if (!ended) {
                run.destroyForcibly();
            }
            String tap = Files.readString(output, StandardCharsets.UTF_8);
            assertTrue(ended, "the SDK suite finished within 5 minutes:\n" + tap);
            assertEquals(0, run.exitValue(), "every SDK case passed:\n" + tap + "\nservice log:\n" + tail(service));
            assertTrue(tap.contains("# pass " + cases), "all " + cases + " cases ran:\n" + tap);
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private static String tail(ServiceProcess service) {
        String log = service.log();
        return log.length() > 8000 ? log.substring(log.length() - 8000) : log;
    }
}
