package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.files.Workspace;
import dev.interpretersandbox.files.WorkspacePath;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Uploads in flight at once share their sandbox's workspace room: each used to be given the whole
 * free room when it opened, and eight at once wrote 7.2 MB into a 1 MiB workspace.
 */
class UploadRoomTest {

    private static void write(Workspace.Upload upload, int bytes) throws Exception {
        upload.write(ByteBuffer.wrap(new byte[bytes]));
    }

    private static WorkspacePath at(String name) {
        return WorkspacePath.parse("/mnt/data/" + name);
    }

    @Test
    void uploadsOpenedAtOnceCannotEachTakeTheWholeRoom() throws Exception {
        try (Core core = new Core(Map.of("sandbox.limits.workspace-size", "1K"))) {
            Sandbox sandbox = core.service
                    .create(SandboxSpec.defaults(core.config))
                    .toCompletableFuture()
                    .join();
            Workspace.Upload first = sandbox.openUpload(at("a"), -1); // both open with 1 KiB free
            Workspace.Upload second = sandbox.openUpload(at("b"), -1);
            write(first, 600);
            SandboxException refused = assertThrows(SandboxException.class, () -> write(second, 600));
            assertEquals(SandboxException.Kind.TOO_LARGE, refused.kind());
            write(second, 424); // what is left fits
            assertEquals(600, first.commit());
            second.close(); // not committed: its 424 bytes are freed

            SandboxException full = assertThrows(SandboxException.class, () -> sandbox.openUpload(at("c"), 425));
            assertEquals(SandboxException.Kind.TOO_LARGE, full.kind(), full.getMessage());
            Workspace.Upload third = sandbox.openUpload(at("c"), 424);
            write(third, 424);
            third.commit();
            try (Workspace.Upload fourth = sandbox.openUpload(at("d"), -1)) { // 1024 of 1024 taken
                assertThrows(SandboxException.class, () -> write(fourth, 1));
            }
        }
    }

    @Test
    void theRoomFollowsWhatIsKeptAndWhatIsFreedEvenWhileItIsMeasured() {
        UploadRoom room = new UploadRoom();
        assertEquals(1000, room.measure(1000, skip -> 0));
        UploadRoom.Quota kept = room.quota(1000);
        kept.file("kept");
        UploadRoom.Quota dropped = room.quota(1000);
        dropped.file("dropped");
        assertTrue(kept.take(300));
        assertTrue(dropped.take(500));
        assertFalse(dropped.take(201), "300 + 500 + 201 > 1000");
        assertEquals(
                200,
                room.measure(1000, skip -> {
                            assertEquals(Set.of("kept", "dropped"), skip, "uploads in flight are left out of the walk");
                            return 100; // what else the workspace holds
                        })
                        + 100);
        // One upload commits while a walk runs: counted once, whether the walk saw its file or not.
        assertEquals(100, room.measure(1000, skip -> {
            kept.end(true);
            return 100;
        }));
        dropped.end(false);
        assertEquals(600, room.measure(1000, skip -> {
            assertEquals(Set.of(), skip);
            return 400; // the kept file and the rest
        }));
    }
}
