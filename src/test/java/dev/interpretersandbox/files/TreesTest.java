package dev.interpretersandbox.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.support.Fifos;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The service deletes trees that sandbox code writes into (workspaces, scratch directories), as
 * root, possibly while a process of it still runs: nothing outside the tree may go.
 */
class TreesTest {

    @TempDir
    Path dir;

    Path outside;

    @BeforeEach
    void setUp() throws IOException {
        outside = Files.createDirectories(dir.resolve("outside"));
        Files.writeString(outside.resolve("keep.txt"), "keep");
    }

    @Test
    void deletesFilesDirectoriesFifosAndLinksButNotWhatLinksPointTo() throws Exception {
        Path root = Files.createDirectories(dir.resolve("tree/a/b/c"));
        root = dir.resolve("tree");
        Files.writeString(root.resolve("a/b/c/f.txt"), "f");
        Files.createSymbolicLink(root.resolve("a/to-outside"), outside);
        Files.createSymbolicLink(root.resolve("a/to-file"), outside.resolve("keep.txt"));
        Fifos.make(root.resolve("a/b/fifo"));
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> Trees.delete(dir.resolve("tree")));
        assertFalse(Files.exists(root, LinkOption.NOFOLLOW_LINKS));
        assertEquals("keep", Files.readString(outside.resolve("keep.txt")));
        assertEquals(List.of(outside.resolve("keep.txt")), list(outside));

        Path file = Files.writeString(dir.resolve("file"), "x");
        Trees.delete(file);
        assertFalse(Files.exists(file));
        Path link = Files.createSymbolicLink(dir.resolve("link"), outside);
        Trees.delete(link);
        assertFalse(Files.exists(link, LinkOption.NOFOLLOW_LINKS));
        assertEquals("keep", Files.readString(outside.resolve("keep.txt")), "the link went, not its target");
        Trees.delete(dir.resolve("missing")); // nothing to do
    }

    @Test
    void aTreeDeeperThanTheLimitIsDeletedWhole() throws Exception {
        Path root = Files.createDirectories(dir.resolve("tree"));
        Path deep = Files.createDirectories(root.resolve("d/" + "d/".repeat(1100)));
        Files.writeString(deep.resolve("bottom.txt"), "x");
        for (int i = 0; i < 50; i++) {
            Files.writeString(root.resolve("f" + i), "x");
        }
        Trees.delete(root);
        assertFalse(Files.exists(root, LinkOption.NOFOLLOW_LINKS), "the deep chain and its siblings went");
    }

    @Test
    void aDirectoryIsOpenedOnlyIfItIsStillTheOneFound() throws Exception {
        Path root = Files.createDirectories(dir.resolve("tree"));
        Files.createDirectories(root.resolve("d"));
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(root)) {
            SecureDirectoryStream<Path> tree = (SecureDirectoryStream<Path>) stream;
            Path d = Path.of("d");
            BasicFileAttributes found = tree.getFileAttributeView(
                            d, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .readAttributes();
            try (SecureDirectoryStream<Path> same = Trees.openChildDirectory(tree, d, found)) {
                assertNotNull(same);
            }
            Files.move(root.resolve("d"), dir.resolve("moved"));
            Files.createSymbolicLink(root.resolve("d"), outside);
            assertNull(Trees.openChildDirectory(tree, d, found), "a link swapped in, to a directory");
            Files.delete(root.resolve("d"));
            Files.createDirectories(root.resolve("d"));
            assertNull(Trees.openChildDirectory(tree, d, found), "another directory");
            Files.delete(root.resolve("d"));
            Fifos.make(root.resolve("d"));
            assertNull(Trees.openChildDirectory(tree, d, found), "a FIFO, not waited on");
        }
    }

    @Test
    void aDirectorySwappedForALinkWhileTheTreeIsDeletedIsNotFollowed() throws Exception {
        for (int round = 0; round < 200; round++) {
            Path root = dir.resolve("tree");
            // Many entries of the same names as outside's, so a walk that follows the swapped-in
            // link deletes outside's.
            for (int i = 0; i < 20; i++) {
                Path sub = Files.createDirectories(root.resolve("sub/d" + i));
                Files.writeString(sub.resolve("keep.txt"), "inside");
                Files.writeString(root.resolve("sub/keep.txt"), "inside");
            }
            try (Fifos.Swapper swapper = new Fifos.Swapper(
                    root.resolve("sub"),
                    Files.createSymbolicLink(dir.resolve("link"), outside),
                    dir.resolve("spare"))) {
                swapper.awaitRunning(); // the delete races with it from its start
                Trees.delete(root);
            }
            assertEquals("keep", Files.readString(outside.resolve("keep.txt")), "round " + round);
            for (Path left : List.of(dir.resolve("link"), dir.resolve("spare"), root)) {
                Trees.delete(left);
            }
        }
    }

    /**
     * A service that is not root runs sandbox code as its own user, and sandbox code can leave
     * directories their owner may not write (a Go module cache, {@code chmod -R a-w}); the tree
     * must still go. Root ignores file modes, so under root the delete runs in a JVM without the
     * capabilities that let it (setpriv); the child first checks that it is refused a plain delete.
     */
    @Test
    void directoriesTheirOwnerMayNotWriteAreDeletedByAServiceThatIsNotRoot() throws Exception {
        Path tree = dir.resolve("tree");
        Path deepest = Files.createDirectories(tree.resolve("a/b"));
        Files.writeString(deepest.resolve("f"), "x");
        Files.writeString(tree.resolve("a/g"), "y");
        for (Path readOnly : List.of(deepest, tree.resolve("a"), tree)) {
            Files.setPosixFilePermissions(readOnly, PosixFilePermissions.fromString("r-x------"));
        }
        assertEquals("refused\nremove refused\ndeleted\n", runAsOwner(DeleteAsOwner.class, tree));
        assertFalse(Files.exists(tree, LinkOption.NOFOLLOW_LINKS), "the delete left the tree");
    }

    /**
     * Directories their owner may not read or search (chmod 000, 300, 600, 644, nested) cannot
     * even be opened by a service that is not root; it opens them up by path, and the tree goes.
     */
    @Test
    void directoriesTheirOwnerMayNotOpenAreDeletedByAServiceThatIsNotRoot() throws Exception {
        Path tree = dir.resolve("tree");
        Map<String, String> modes = new LinkedHashMap<>();
        modes.put("none/inner", "---------"); // nested: opened up only once its parent is
        modes.put("none", "---------");
        modes.put("no-read", "-wx------");
        modes.put("no-search", "rw-------");
        modes.put("read-only/deeper", "r--r--r--");
        modes.put("read-only", "r--r--r--");
        for (String path : modes.keySet()) {
            Path made = Files.createDirectories(tree.resolve(path));
            Files.writeString(made.resolve("f"), "x");
        }
        for (Map.Entry<String, String> mode : modes.entrySet()) {
            Files.setPosixFilePermissions(
                    tree.resolve(mode.getKey()), PosixFilePermissions.fromString(mode.getValue()));
        }
        // A link to a directory outside that its owner may not write: neither followed nor changed.
        Path locked = Files.createDirectories(dir.resolve("outside-locked"));
        Files.createSymbolicLink(tree.resolve("to-locked"), locked);
        Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("r-x------"));
        Files.setPosixFilePermissions(tree, PosixFilePermissions.fromString("---------"));
        assertEquals("refused\nleft without opening up\ndeleted\n", runAsOwner(DeleteOpeningUp.class, tree));
        assertFalse(Files.exists(tree, LinkOption.NOFOLLOW_LINKS), "the delete left the tree");
        assertEquals("r-x------", PosixFilePermissions.toString(Files.getPosixFilePermissions(locked)));
    }

    /**
     * Runs main's class on tree in a child JVM that file modes bind (under root: without the
     * capabilities that let root ignore them); its standard output.
     */
    private String runAsOwner(Class<?> main, Path tree) throws Exception {
        List<String> command = new ArrayList<>();
        if ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0) {
            // Inheritable (and so ambient) capabilities go too: some container runtimes set them.
            command.addAll(
                    List.of("setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner"));
        }
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                main.getName(),
                tree.toString()));
        Path errors = dir.resolve("child-stderr.txt");
        Process child =
                new ProcessBuilder(command).redirectError(errors.toFile()).start();
        try {
            String output = assertTimeoutPreemptively(
                    Duration.ofSeconds(60),
                    () -> new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            assertEquals(0, child.exitValue(), output + Files.readString(errors));
            return output;
        } finally {
            child.destroyForcibly();
        }
    }

    /**
     * The child of the test above: a plain delete first, which must be refused; then a remove as
     * the file API does it, which leaves the read-only directory as {@code rm -r} would; then {@link
     * Trees#delete}.
     */
    static final class DeleteAsOwner {
        public static void main(String[] args) throws IOException {
            Path tree = Path.of(args[0]);
            try {
                Files.delete(tree.resolve("a/b/f"));
                System.out.println("not refused: this process ignores file modes");
            } catch (IOException e) {
                System.out.println("refused");
            }
            try (SecureDirectoryStream<Path> root = Trees.openDirectory(tree)) {
                Trees.removeEntry(root, Path.of("a"), 0, null, false);
                System.out.println("removed without unlocking");
            } catch (AccessDeniedException e) {
                System.out.println("remove refused");
            }
            Trees.delete(tree);
            System.out.println("deleted");
        }
    }

    /**
     * The child of the test above: a plain listing first, which must be refused; then a delete
     * that may not open up directories (the tree stays); then one that may. Under root the
     * public {@link Trees#delete} would not open up (root never needs to), hence the seam.
     */
    static final class DeleteOpeningUp {
        public static void main(String[] args) throws IOException {
            Path tree = Path.of(args[0]);
            try (DirectoryStream<Path> listing = Files.newDirectoryStream(tree)) {
                System.out.println("not refused: this process ignores file modes");
            } catch (AccessDeniedException e) {
                System.out.println("refused");
            }
            Trees.delete(tree, false);
            System.out.println(Files.exists(tree, LinkOption.NOFOLLOW_LINKS) ? "left without opening up" : "gone");
            Trees.delete(tree, true);
            System.out.println(Files.exists(tree, LinkOption.NOFOLLOW_LINKS) ? "left" : "deleted");
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        try (var entries = Files.list(dir)) {
            return entries.toList();
        }
    }
}
