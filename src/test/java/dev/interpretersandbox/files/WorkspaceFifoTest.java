package dev.interpretersandbox.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.error.SandboxException;
import dev.interpretersandbox.support.Fifos;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sandbox code that swaps a FIFO in under a name the file API is about to open must not hold a
 * service thread: an open of a FIFO for reading waits for a writer that never comes. A racing
 * thread swaps a FIFO and the real entry back and forth by rename(2) while the API opens the
 * name again and again; every call must return. With the file API opening names after checking
 * them, these tests hang on the first unlucky open (and fail at the timeout).
 */
class WorkspaceFifoTest {

    private static final Duration DEADLINE = Duration.ofSeconds(60);
    private static final int ROUNDS = 3000;

    @TempDir
    Path dir;

    Path root;
    Path otherMount;
    int uid;
    Workspace workspace;
    final List<Path> fifos = new ArrayList<>();
    // Ends the loops of a test that timed out (their thread is left behind, stuck in an open that
    // release() lets go), so they do not run on against a deleted directory.
    volatile boolean over;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectories(dir.resolve("ws"));
        int own = (Integer) Files.getAttribute(dir, "unix:uid");
        // As root the files are handed to another user, so the test can see that they were.
        uid = own == 0 ? 4242 : own;
        workspace = new Workspace(root, dir.resolve("staging"), uid);
    }

    @AfterEach
    void release() throws IOException {
        over = true;
        for (Path fifo : fifos) {
            for (Path at : List.of(fifo, root.resolve("f"), root.resolve("d"), root.resolve("u"))) {
                Fifos.release(at);
            }
        }
        if (otherMount != null) {
            try (var left = Files.list(otherMount)) {
                for (Path path : left.toList()) {
                    Files.delete(path);
                }
            }
            Files.delete(otherMount);
        }
    }

    @Test
    void aDownloadNeverOpensAFifoSwappedInForTheFile() throws Exception {
        Files.writeString(root.resolve("f"), "regular");
        Outcomes outcomes = downloadsWhileSwapped(workspace, fifo(dir.resolve("fifo")));
        assertTrue(outcomes.served.get() > 0, "some downloads got the file: " + outcomes);
        assertTrue(outcomes.refused.get() > 0, "some met the FIFO: " + outcomes);
    }

    @Test
    void aDownloadNeverSendsWhatALinkSwappedInForTheFilePointsTo() throws Exception {
        Files.writeString(root.resolve("f"), "regular");
        Files.writeString(dir.resolve("secret"), "secret");
        Outcomes outcomes =
                downloadsWhileSwapped(workspace, Files.createSymbolicLink(dir.resolve("link"), dir.resolve("secret")));
        assertTrue(outcomes.served.get() > 0, "some downloads got the file: " + outcomes);
        assertTrue(outcomes.refused.get() > 0, "some met the link: " + outcomes);
    }

    @Test
    void theWalkNeverOpensAFifoSwappedInForADirectory() throws Exception {
        Files.createDirectories(root.resolve("d"));
        Files.writeString(root.resolve("d/x"), "inside");
        AtomicInteger listed = new AtomicInteger();
        AtomicInteger served = new AtomicInteger();
        try (Fifos.Swapper swapper =
                new Fifos.Swapper(root.resolve("d"), fifo(dir.resolve("fifo")), dir.resolve("spare"))) {
            assertTimeoutPreemptively(DEADLINE, () -> {
                for (int i = 0; i < ROUNDS && !over; i++) {
                    try {
                        List<Workspace.Entry> entries = workspace.list(at("d"), 1, 10);
                        assertEquals(List.of("x"), names(entries));
                        listed.incrementAndGet();
                    } catch (SandboxException e) {
                        assertEquals(SandboxException.Kind.NOT_FOUND, e.kind(), e.getMessage());
                    }
                    try (Workspace.Download download = workspace.openDownload(at("d/x"), sent -> {})) {
                        assertEquals("inside", read(download.channel()));
                        served.incrementAndGet();
                    } catch (SandboxException e) {
                        assertTrue(
                                Set.of(SandboxException.Kind.NOT_FOUND, SandboxException.Kind.CONFLICT)
                                        .contains(e.kind()),
                                e.getMessage());
                    }
                    List<String> both = names(workspace.list(at(""), 2, 10));
                    assertTrue(
                            both.equals(List.of("d", "x")) || both.equals(List.of("d")) || both.isEmpty(),
                            both::toString);
                    assertTrue(Set.of(0, 1)
                            .contains(workspace.snapshot(10, 100).files().size()));
                }
            });
            assertTrue(swapper.swaps() > 100, "the swapper ran: " + swapper.swaps());
        }
        assertTrue(listed.get() > 0 && served.get() > 0, "listed " + listed + ", served " + served);
    }

    @Test
    void anUploadIsHandedOverWithoutOpeningWhatTookItsName() throws Exception {
        Workspace.Upload upload = workspace.openUpload(at("u"), 1 << 20, written -> {});
        upload.write(ByteBuffer.wrap("body".getBytes(StandardCharsets.UTF_8)));
        assertEquals(uid, Files.getAttribute(root.resolve("u"), "unix:uid"), "the sandbox user's from the start");
        assertEquals(uid, Files.getAttribute(root.resolve("u"), "unix:gid"));
        Files.move(fifo(dir.resolve("fifo")), root.resolve("u"), StandardCopyOption.ATOMIC_MOVE);
        assertTimeoutPreemptively(DEADLINE, () -> assertEquals(4, upload.commit()));
        assertTrue(
                Files.readAttributes(root.resolve("u"), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                        .isOther(),
                "what sandbox code put there stays");

        Workspace.Upload plain = workspace.openUpload(at("v"), 1 << 20, written -> {});
        plain.write(ByteBuffer.wrap("body".getBytes(StandardCharsets.UTF_8)));
        assertEquals(4, plain.commit());
        assertEquals("body", Files.readString(root.resolve("v")));
        assertEquals(uid, Files.getAttribute(root.resolve("v"), "unix:uid"));
        try (var left = Files.list(dir.resolve("staging"))) {
            assertEquals(List.of(), left.toList(), "nothing left in staging");
        }
    }

    @Test
    void withoutAHardLinkADownloadOpensInPlaceAndStillNeverWaitsOnAFifoNorFollowsALink() throws Exception {
        // Staging on another mount: link(2) fails with EXDEV, so downloads open the name itself.
        otherMount = Files.createTempDirectory(Path.of("/dev/shm"), "workspace-staging");
        Workspace unlinkable = new Workspace(root, otherMount, uid);
        Path file = root.resolve("f");
        Files.writeString(file, "regular");
        FileTime modified = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(file, modified);
        try (Workspace.Download download = unlinkable.openDownload(at("f"), sent -> {})) {
            assertEquals(1, Files.getAttribute(file, "unix:nlink"), "opened in place, not through a link");
            assertEquals("regular", Files.readString(download.stage()), "a private copy to send");
        }
        assertEquals(modified, Files.getLastModifiedTime(file), "opened read-write, never written");
        assertEquals("regular", Files.readString(file));

        Outcomes fifo = downloadsWhileSwapped(unlinkable, fifo(dir.resolve("fifo")));
        assertTrue(fifo.served.get() > 0 && fifo.refused.get() > 0, "served and refused: " + fifo);
        Files.writeString(dir.resolve("secret"), "secret");
        Outcomes link =
                downloadsWhileSwapped(unlinkable, Files.createSymbolicLink(dir.resolve("link"), dir.resolve("secret")));
        assertTrue(link.served.get() > 0 && link.refused.get() > 0, "served and refused: " + link);
    }

    @Test
    void theStartupCheckTellsWhetherStagingRenamesIntoTheWorkspace() throws Exception {
        assertTrue(Workspace.renamesFrom(dir.resolve("staging"), root));
        otherMount = Files.createTempDirectory(Path.of("/dev/shm"), "workspace-staging");
        assertFalse(Workspace.renamesFrom(otherMount, root), "another mount");
        try (var left = Files.list(root)) {
            assertEquals(List.of(), left.toList(), "no probe left behind");
        }
    }

    @Test
    void aFifoInPlaceOfTheWorkspaceItselfIsNotWaitedOn() throws Exception {
        Files.move(root, dir.resolve("moved"));
        fifo(root);
        assertTimeoutPreemptively(DEADLINE, () -> {
            SandboxException listing = assertThrows(SandboxException.class, () -> workspace.list(at(""), 1, 10));
            assertEquals(SandboxException.Kind.NOT_FOUND, listing.kind());
            assertThrows(SandboxException.class, () -> workspace.openDownload(at("f"), sent -> {}));
            assertEquals(Map.of(), workspace.snapshot(10, 100).files());
        });
    }

    @Test
    void anUploadNotCommittedRemovesOnlyWhatItWrote() throws Exception {
        Workspace.Upload upload = workspace.openUpload(at("w"), 1 << 20, written -> {});
        upload.write(ByteBuffer.wrap("partial".getBytes(StandardCharsets.UTF_8)));
        // Sandbox code (or a remove) takes the name away, and something else takes it.
        Files.delete(root.resolve("w"));
        Files.writeString(root.resolve("w"), "someone else's");
        upload.close();
        assertEquals("someone else's", Files.readString(root.resolve("w")));

        Workspace.Upload failed = workspace.openUpload(at("x"), 1 << 20, written -> {});
        failed.write(ByteBuffer.wrap("partial".getBytes(StandardCharsets.UTF_8)));
        failed.close();
        assertFalse(Files.exists(root.resolve("x"), LinkOption.NOFOLLOW_LINKS), "its own partial file goes");
    }

    @Test
    void removingADirectoryNeverFollowsALinkSwappedInForIt() throws Exception {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.writeString(outside.resolve("keep.txt"), "keep");
        for (int i = 0; i < 200; i++) {
            Files.createDirectories(root.resolve("d"));
            Files.writeString(root.resolve("d/x"), "inside");
            try (Fifos.Swapper swapper = new Fifos.Swapper(
                    root.resolve("d"), Files.createSymbolicLink(dir.resolve("link"), outside), dir.resolve("spare"))) {
                swapper.awaitRunning();
                try {
                    workspace.remove(at("d"));
                } catch (SandboxException | IOException e) {
                    // the swapper moved it away meanwhile
                }
            }
            for (Path left : List.of(dir.resolve("link"), dir.resolve("spare"), root.resolve("d"))) {
                deleteTree(left);
            }
            assertEquals("keep", Files.readString(outside.resolve("keep.txt")), "round " + i);
        }
    }

    /**
     * Downloads f again and again while other (a FIFO, a link to a file outside) is swapped in
     * for it: each call returns the file or a refusal, never what other is.
     */
    private Outcomes downloadsWhileSwapped(Workspace workspace, Path other) throws Exception {
        Outcomes outcomes = new Outcomes();
        try (Fifos.Swapper swapper = new Fifos.Swapper(root.resolve("f"), other, dir.resolve("spare"))) {
            swapper.awaitRunning();
            assertTimeoutPreemptively(DEADLINE, () -> {
                // ROUNDS, and on until both a serve and a refusal were seen: on a loaded host one
                // run of 3000 once met only the swapped-in FIFO and the gaps between.
                for (int i = 0;
                        (i < ROUNDS || outcomes.served.get() == 0 || outcomes.refused.get() == 0)
                                && i < 10 * ROUNDS
                                && !over;
                        i++) {
                    try (Workspace.Download download = workspace.openDownload(at("f"), sent -> {})) {
                        assertEquals("regular", read(download.channel()));
                        assertEquals("regular", Files.readString(download.stage()));
                        outcomes.served.incrementAndGet();
                    } catch (SandboxException e) {
                        switch (e.kind()) {
                            case INVALID, FORBIDDEN -> outcomes.refused.incrementAndGet();
                            case NOT_FOUND, CONFLICT -> outcomes.missed.incrementAndGet();
                            default -> throw e;
                        }
                    }
                }
            });
            assertTrue(swapper.swaps() > 100, "the swapper ran: " + swapper.swaps());
        }
        return outcomes;
    }

    /** What the downloads got: the file, a refusal of what was swapped in, or nothing there. */
    private record Outcomes(AtomicInteger served, AtomicInteger refused, AtomicInteger missed) {
        Outcomes() {
            this(new AtomicInteger(), new AtomicInteger(), new AtomicInteger());
        }
    }

    private Path fifo(Path path) throws IOException, InterruptedException {
        fifos.add(path);
        return Fifos.make(path);
    }

    private static WorkspacePath at(String path) {
        return WorkspacePath.parse("/mnt/data/" + path);
    }

    private static List<String> names(List<Workspace.Entry> entries) {
        return entries.stream().map(Workspace.Entry::name).collect(Collectors.toList());
    }

    private static String read(SeekableByteChannel channel) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(64);
        while (channel.read(buffer) > 0) {
            // all of it
        }
        return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8);
    }

    private static void deleteTree(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try (var children = Files.list(path)) {
                for (Path child : children.toList()) {
                    deleteTree(child);
                }
            }
        }
        Files.delete(path);
    }
}
