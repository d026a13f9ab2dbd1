package dev.interpretersandbox.e2b;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.interpretersandbox.error.SandboxException;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** E2B's paths, Connect's framing and the quoting of a command's words. */
class E2bWireTest {

    @Test
    void homeIsTheWorkspaceAndNothingElseIsReachable() {
        assertEquals("/mnt/data/a.csv", EnvdPlane.path("/home/user/a.csv").toString());
        assertEquals("/mnt/data/a.csv", EnvdPlane.path("a.csv").toString());
        assertEquals("/mnt/data", EnvdPlane.path("/home/user").toString());
        assertEquals("/mnt/data/x", EnvdPlane.path("/mnt/data/x").toString());
        assertEquals("/home/user/d/e", EnvdPlane.shown(EnvdPlane.path("/mnt/data/d/e")));
        for (String outside : List.of("/etc/passwd", "/home/userx/a", "/home/other", "/tmp/x", "/")) {
            SandboxException e = assertThrows(SandboxException.class, () -> EnvdPlane.path(outside), outside);
            assertEquals(SandboxException.Kind.FORBIDDEN, e.kind(), outside);
        }
        for (String bad : List.of("/home/user/../../etc/passwd", "../x", "", "/home/user/a\u0000b")) {
            SandboxException e = assertThrows(SandboxException.class, () -> EnvdPlane.path(bad), bad);
            assertEquals(SandboxException.Kind.INVALID, e.kind(), bad);
        }
    }

    @Test
    void envelopesCarryFlagsAndABigEndianLength() {
        byte[] json = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);
        Buffer framed = ConnectEnvelope.frame(ConnectEnvelope.END_STREAM, json);
        assertEquals(2, framed.getByte(0));
        assertEquals(json.length, framed.getInt(1));
        assertArrayEquals(
                json,
                ConnectEnvelope.single(ConnectEnvelope.frame((byte) 0, json).getBytes()));
        byte[] compressed = ConnectEnvelope.frame((byte) 1, json).getBytes();
        assertThrows(SandboxException.class, () -> ConnectEnvelope.single(compressed));
        byte[] lying = ConnectEnvelope.frame((byte) 0, json).getBytes();
        lying[4] = 100; // claims more than it carries
        assertThrows(SandboxException.class, () -> ConnectEnvelope.single(lying));
        assertThrows(SandboxException.class, () -> ConnectEnvelope.single(new byte[] {0, 0}));
    }

    @Test
    void aCommandsWordsAreQuotedForBash() {
        assertEquals(
                "'/usr/bin/python3' '-c' 'print(\"it'\\''s\")'",
                EnvdPlane.quoted("/usr/bin/python3", List.of("-c", "print(\"it's\")")));
        assertEquals("'echo' '$(rm -rf /)'", EnvdPlane.quoted("echo", List.of("$(rm -rf /)")));
    }
}
