package dev.interpretersandbox.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WorkspacePathTest {

    @Test
    void pathsBelowTheWorkspaceSplitIntoComponents() {
        assertEquals(
                List.of("a", "b.csv"), WorkspacePath.parse("/mnt/data/a/b.csv").components());
        assertEquals(
                List.of("a", "b.csv"), WorkspacePath.parse("mnt/data//a/b.csv").components());
        assertTrue(WorkspacePath.parse("/mnt/data").isRoot());
        assertTrue(WorkspacePath.parse("/mnt/data/").isRoot());
        assertEquals("数据 ü.txt", WorkspacePath.parse("/mnt/data/数据 ü.txt").fileName());
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "/mnt/data/../etc/passwd",
                "/mnt/data/a/../../x",
                "/mnt/data/./x",
                "/mnt/data/x\u0000y",
                "/mnt/data/a\nb",
                "/mnt/data/\u007f"
            })
    void traversalAndControlCharactersAre400(String path) {
        FileAccessException e = assertThrows(FileAccessException.class, () -> WorkspacePath.parse(path));
        assertEquals(SandboxException.Kind.INVALID, e.kind());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/etc/passwd", "/mnt", "/mnt/database/x", "/tmp/x", "/", "/mnt/x/data"})
    void anythingOutsideTheWorkspaceIs403(String path) {
        FileAccessException e = assertThrows(FileAccessException.class, () -> WorkspacePath.parse(path));
        assertEquals(SandboxException.Kind.FORBIDDEN, e.kind());
    }

    @Test
    void overlongComponentsAre400() {
        assertEquals(
                SandboxException.Kind.INVALID,
                assertThrows(FileAccessException.class, () -> WorkspacePath.parse("/mnt/data/" + "x".repeat(256)))
                        .kind());
    }
}
