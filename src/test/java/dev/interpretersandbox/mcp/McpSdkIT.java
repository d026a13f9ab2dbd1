package dev.interpretersandbox.mcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.support.ServiceProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned in compat/mcp) drives the
 * packaged service's /mcp endpoint over Streamable HTTP. The cases are node:test tests in
 * compat/mcp/test (installed by deploy/install-test-deps.sh).
 */
class McpSdkIT {

    private static final Path SUITE = Path.of("compat/mcp");
    private static final int CASES = 8;

    @TempDir
    Path state;

    @Test
    void theOfficialTypeScriptClientUsesTheSandboxThroughMcp() throws Exception {
        assertTrue(
                Files.isDirectory(SUITE.resolve("node_modules/@modelcontextprotocol/sdk")),
                "the SDK is installed: run deploy/install-test-deps.sh");
        try (ServiceProcess service = ServiceProcess.start(state, Map.of("SANDBOX_SANDBOXES_POOL_SIZE", "1"))) {
            Path output = Files.createTempFile(state, "node-", ".tap");
            ProcessBuilder node = new ProcessBuilder(List.of("node", "--test", "test/"))
                    .directory(SUITE.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile());
            node.environment().put("SERVICE_URL", service.url(""));
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

    private static String tail(ServiceProcess service) {
        String log = service.log();
        return log.length() > 8000 ? log.substring(log.length() - 8000) : log;
    }
}
