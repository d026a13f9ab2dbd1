package dev.interpretersandbox.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The workspace operations E2B's filesystem service uses (stat, list, mkdir, remove, move, a
 * write that replaces): they stay inside the workspace whatever links sandbox code planted.
 */
class WorkspaceOperationsTest {

    @TempDir
    Path dir;

    Path root;
    Path outside;
    Workspace workspace;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectories(dir.resolve("ws"));
        outside = Files.createDirectories(dir.resolve("outside"));
        Files.writeString(outside.resolve("secret.txt"), "secret");
        workspace = new Workspace(root, dir.resolve("staging"), (Integer) Files.getAttribute(root, "unix:uid"));
    }

    private static WorkspacePath at(String path) {
        return WorkspacePath.parse("/mnt/data/" + path);
    }

    @Test
    void walksLookAtABoundedNumberOfEntriesOfAnyKind() throws IOException {
        // Links, directories and FIFOs cost sandbox code no quota, so they count like files.
        Path links = Files.createDirectories(root.resolve("links"));
        for (int i = 0; i < 300; i++) {
            Files.createSymbolicLink(links.resolve("l" + i), outside.resolve("secret.txt"));
        }
        Files.writeString(root.resolve("one.txt"), "1");
        assertEquals(1, workspace.usage(1000));
        SandboxException tooMany = assertThrows(SandboxException.class, () -> workspace.usage(100));
        assertEquals(SandboxException.Kind.TOO_LARGE, tooMany.kind());
        assertTrue(tooMany.getMessage().contains("more than 100 files, directories and links"), tooMany.getMessage());

        Path many = Files.createDirectories(dir.resolve("many"));
        for (int i = 0; i < 250; i++) {
            Files.writeString(many.resolve("f" + i), "x");
        }
        Workspace files = new Workspace(many, dir.resolve("staging"), (Integer) Files.getAttribute(many, "unix:uid"));
        Workspace.Snapshot cut = files.snapshot(1000, 100);
        assertEquals(100, cut.files().size(), "no more entries looked at than allowed");
        assertFalse(cut.complete());
        assertEquals(40, files.snapshot(40, 100).files().size(), "nor more files kept");
        Workspace.Snapshot whole = files.snapshot(1000, 1000);
        assertEquals(250, whole.files().size());
        assertTrue(whole.complete());
    }

    @Test
    void listsStatsMakesMovesAndRemoves() throws IOException {
        assertTrue(workspace.makeDirectories(at("a/b")));
        assertFalse(workspace.makeDirectories(at("a/b")), "it existed");
        write(at("a/b/f.txt"), "12345", false);
        List<Workspace.Entry> entries = workspace.list(at("a"), 2, 100);
        assertEquals(
                List.of("b", "f.txt"),
                entries.stream().map(Workspace.Entry::name).toList());
        assertEquals(Workspace.EntryType.FILE, entries.get(1).type());
        assertEquals(5, entries.get(1).size());
        assertEquals(
                List.of("b"),
                workspace.list(at("a"), 1, 100).stream()
                        .map(Workspace.Entry::name)
                        .toList());
        assertEquals(Workspace.EntryType.DIRECTORY, workspace.stat(at("a/b")).type());
        workspace.move(at("a/b/f.txt"), at("c/g.txt"));
        assertEquals("12345", Files.readString(root.resolve("c/g.txt")));
        workspace.remove(at("a"));
        assertFalse(Files.exists(root.resolve("a")));
        SandboxException missing = assertThrows(SandboxException.class, () -> workspace.stat(at("a")));
        assertEquals(SandboxException.Kind.NOT_FOUND, missing.kind());
    }

    @Test
    void aWriteThatReplacesSwapsTheFileWholeAndNeverFollowsALink() throws IOException {
        write(at("f.txt"), "old", false);
        write(at("f.txt"), "new", true);
        assertEquals("new", Files.readString(root.resolve("f.txt")));
        Files.createSymbolicLink(root.resolve("link.txt"), outside.resolve("secret.txt"));
        write(at("link.txt"), "mine", true);
        assertEquals("secret", Files.readString(outside.resolve("secret.txt")), "the target is untouched");
        assertFalse(Files.isSymbolicLink(root.resolve("link.txt")), "the link itself was replaced");
        try (var left = Files.list(root)) {
            assertTrue(
                    left.noneMatch(p -> p.getFileName().toString().startsWith(".upload-")), "no temporary file left");
        }
    }

    @Test
    void linksOnTheWayAreRefusedAndALinkItselfIsShownNotFollowed() throws IOException {
        Files.createSymbolicLink(root.resolve("out"), outside);
        for (String path : List.of("out/secret.txt", "out")) {
            // stat of the link itself is fine; through it is refused
            if (path.equals("out")) {
                assertEquals(
                        Workspace.EntryType.SYMLINK, workspace.stat(at(path)).type());
                continue;
            }
            assertRefused(() -> workspace.stat(at(path)));
        }
        assertRefused(() -> workspace.list(at("out"), 1, 100));
        assertRefused(() -> workspace.makeDirectories(at("out/new")));
        assertRefused(() -> workspace.remove(at("out/secret.txt")));
        assertRefused(() -> workspace.move(at("out/secret.txt"), at("stolen.txt")));
        assertRefused(() -> workspace.move(at("nothing.txt"), at("out/x.txt")));
        workspace.remove(at("out"));
        assertTrue(Files.exists(outside.resolve("secret.txt")), "removing a link removes the link only");
        assertFalse(Files.exists(root.resolve("out"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void theWorkspaceItselfCannotBeRemovedOrMovedAndNotIntoItself() throws IOException {
        assertThrows(SandboxException.class, () -> workspace.remove(WorkspacePath.parse("/mnt/data")));
        workspace.makeDirectories(at("d"));
        SandboxException into = assertThrows(SandboxException.class, () -> workspace.move(at("d"), at("d/e")));
        assertEquals(SandboxException.Kind.INVALID, into.kind());
    }

    private static void assertRefused(ThrowingRunnable action) {
        SandboxException e = assertThrows(SandboxException.class, action::run);
        assertTrue(
                e.kind() == SandboxException.Kind.FORBIDDEN || e.kind() == SandboxException.Kind.NOT_FOUND,
                "refused, not followed: " + e.kind() + " " + e.getMessage());
    }

    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private void write(WorkspacePath path, String text, boolean replace) throws IOException {
        Workspace.Upload upload = replace
                ? workspace.openReplace(path, 1 << 20, written -> {})
                : workspace.openUpload(path, 1 << 20, written -> {});
        upload.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
        upload.commit();
    }
}
