package dev.interpretersandbox.mcp;

import dev.interpretersandbox.support.NodeSuite;
import dev.interpretersandbox.support.ServiceProcess;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official MCP TypeScript SDK (@modelcontextprotocol/sdk, pinned in compat/mcp) drives the
 * packaged service's /mcp endpoint over Streamable HTTP. The cases are node:test tests in
 * compat/mcp/test.
 */
class McpSdkIT {

    @TempDir
    Path state;

    @Test
    void theOfficialTypeScriptClientUsesTheSandboxThroughMcp() throws Exception {
        try (ServiceProcess service = ServiceProcess.start(state, Map.of("SANDBOX_SANDBOXES_POOL_SIZE", "1"))) {
            NodeSuite.run(
                    Path.of("compat/mcp"),
                    "@modelcontextprotocol/sdk",
                    8,
                    Map.of("SERVICE_URL", service.url("")),
                    service);
        }
    }
}
