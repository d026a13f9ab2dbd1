package dev.interpretersandbox.files;

import dev.interpretersandbox.log.LogSafe;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import org.jboss.logging.Logger;

/**
 * Deleting directory trees that sandbox code may write into (workspaces, scratch directories,
 * bundles) while a process of it may still run (process mode without a cgroup cannot kill what
 * left its process tree). The service is often root, so it must never delete through a link:
 * a walk by path would let such a process swap a directory it is in for a link to {@code /}
 * between the walk's check and its next step. So every step is relative to an open directory
 * ({@link SecureDirectoryStream}: unlinkat, openat with O_NOFOLLOW), and a directory is opened as
 * {@code name/.} and checked to be the one found (see {@link #openChildDirectory}). The one step
 * by path, {@link #openUp}, runs only in a service that is neither root nor holds a capability.
 */
public final class Trees {

    private static final Logger LOG = Logger.getLogger(Trees.class);
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final int MAX_DEPTH = 1000;
    private static final int MAX_ROUNDS = 10_000; // a chain of ten million directories
    private static final Set<PosixFilePermission> OWNER_ALL = EnumSet.of(
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

    private Trees() {}

    /**
     * Deletes a tree (or a file, or a link itself); logs failures. What cannot be deleted does
     * not stop the rest, and a tree nested deeper than {@link #MAX_DEPTH} is deleted too: each
     * directory met at that depth is moved up into the root (renameat between open directories)
     * and deleted in a further round. A directory its owner may not write (a Go module cache,
     * {@code chmod -R a-w}) is made writable when a delete in it is refused: a service that is
     * not root runs sandbox code as its own user, and would otherwise leave such a tree on disk
     * for good. Such a service also opens up directories their owner may not read or search
     * ({@code chmod 000}, {@code chmod -R 644}) when the delete leaves something (see {@link
     * #openUp}).
     */
    public static void delete(Path root) {
        delete(root, Identity.unprivileged());
    }

    /**
     * @param openUp whether directories in the way may be opened up by path (see {@link
     *     #openUp}); only a service that is neither root nor holds a capability may, and a test
     *     under root without the capabilities that let it ignore file modes
     */
    static void delete(Path root, boolean openUp) {
        IOException failure = attempt(root);
        for (int round = 0; failure != null && openUp && round < MAX_DEPTH && openUp(root); round++) {
            failure = attempt(root);
        }
        if (failure != null) {
            LOG.warnf("cannot delete %s: %s", root, LogSafe.quote(failure.getMessage()));
        }
    }

    /** One delete of the tree: null when it is gone, else the first failure. */
    private static IOException attempt(Path root) {
        try {
            BasicFileAttributes attributes;
            try {
                attributes = Files.readAttributes(root, BasicFileAttributes.class, NOFOLLOW);
            } catch (NoSuchFileException e) {
                return null;
            }
            // Another round (a directory stream lists once) while directories were moved up.
            for (int round = 0; attributes.isDirectory() && round < MAX_ROUNDS; round++) {
                try (SecureDirectoryStream<Path> dir = openDirectory(root)) {
                    if (!Objects.equals(attributes.fileKey(), ownKey(dir))) {
                        throw new IOException("replaced while it was opened");
                    }
                    if (!deleteContents(dir, 0, dir, true)) {
                        break;
                    }
                }
            }
            Files.deleteIfExists(root);
            return null;
        } catch (IOException e) {
            return e;
        }
    }

    /**
     * Sets every directory of the tree whose owner lacks read, write or search to 0700, so that
     * the next delete can open and empty it; one walk opens up what it can reach, which is not
     * what lies inside a directory it could not open (the next round's walk does). Unlike the
     * rest of this class it works by path: chmod(2) through a descriptor would need the directory
     * opened, which is what its mode forbids. So it runs only in a service that is neither root
     * nor holds a capability, where sandbox code runs as the service's own user: a link that code swaps in under a
     * directory's name leads the chmod to a file that user owns, whose mode it could set itself;
     * and 0700 only ever takes access away from group and others. chmod(2) never opens what it
     * changes, so a FIFO cannot hold the thread.
     *
     * @return whether a mode was changed
     */
    static boolean openUp(Path root) {
        boolean[] changed = {false};
        try {
            Files.walkFileTree(root, Set.of(), MAX_DEPTH, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attributes) {
                    changed[0] |= openUpDirectory(dir); // listed, but its entries need search
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    if (e instanceof AccessDeniedException) {
                        changed[0] |= openUpDirectory(file); // not even listed
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException e) {
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            // a walk by path meets entries vanishing; the next delete reports what stays
        }
        return changed[0];
    }

    private static boolean openUpDirectory(Path path) {
        try {
            PosixFileAttributes attributes = Files.readAttributes(path, PosixFileAttributes.class, NOFOLLOW);
            if (!attributes.isDirectory()) {
                return false;
            }
            if (attributes.permissions().containsAll(OWNER_ALL)) {
                return false;
            }
            Files.setPosixFilePermissions(path, OWNER_ALL); // chmod(2) by path to 0700: see openUp
            return true;
        } catch (IOException e) {
            return false; // vanished, or not the service's own
        }
    }

    /**
     * Deletes what is in dir, going on past what cannot be deleted (the first such failure is
     * thrown at the end). Each directory is closed once emptied, so a deep tree holds two
     * descriptors per level it is in, and the depth is bounded: past {@link #MAX_DEPTH} a
     * directory is moved up into top (when top is not null; else that is a failure). Entries
     * that vanish meanwhile are skipped.
     *
     * @param unlock whether a directory in which a delete is refused is made writable by its
     *     owner and the delete tried again (see {@link #unlock}); a remove of a path through the
     *     file API does not, as {@code rm -r} does not
     * @return whether something was moved up into top, to be deleted in another round
     */
    static boolean deleteContents(
            SecureDirectoryStream<Path> dir, int depth, SecureDirectoryStream<Path> top, boolean unlock)
            throws IOException {
        IOException first = null;
        boolean moved = false;
        for (Path entry : dir) {
            Path name = entry.getFileName();
            try {
                if (depth >= MAX_DEPTH) {
                    BasicFileAttributes attributes = dir.getFileAttributeView(
                                    name, BasicFileAttributeView.class, NOFOLLOW)
                            .readAttributes();
                    if (attributes.isDirectory()) {
                        if (top == null) {
                            throw new IOException("directories nested deeper than " + MAX_DEPTH + " levels");
                        }
                        Path deep = Path.of(".deep-" + UUID.randomUUID());
                        inDirectory(dir, unlock, () -> dir.move(name, top, deep));
                        moved = true;
                        continue;
                    }
                }
                moved |= removeEntry(dir, name, depth + 1, top, unlock);
            } catch (NoSuchFileException e) {
                // removed meanwhile
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
        return moved;
    }

    /**
     * Removes the entry name in dir: a file or link itself, a directory with what is in it.
     *
     * @param top where directories nested too deep are moved up to (see {@link #deleteContents}),
     *     or null to refuse them
     * @param unlock see {@link #deleteContents}
     * @return whether something was moved up into top, so that the entry itself may remain
     */
    static boolean removeEntry(
            SecureDirectoryStream<Path> dir, Path name, int depth, SecureDirectoryStream<Path> top, boolean unlock)
            throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            BasicFileAttributes attributes = dir.getFileAttributeView(name, BasicFileAttributeView.class, NOFOLLOW)
                    .readAttributes();
            if (!attributes.isDirectory()) {
                inDirectory(dir, unlock, () -> dir.deleteFile(name));
                return false;
            }
            SecureDirectoryStream<Path> child = openChildDirectory(dir, name, attributes);
            if (child == null) {
                continue; // replaced since the check: look again
            }
            boolean moved;
            try (child) {
                moved = deleteContents(child, depth, top, unlock);
            }
            inDirectory(dir, unlock, () -> dir.deleteDirectory(name));
            return moved;
        }
        throw new ChangingException(name);
    }

    /** A change of one entry of a directory (unlinkat, renameat). */
    private interface Change {
        void run() throws IOException;
    }

    /**
     * Makes change in dir; when that is refused and unlock is set, makes dir writable by its
     * owner (see {@link #unlock}) and tries once more. Root is never refused, so under root this
     * changes no mode.
     */
    private static void inDirectory(SecureDirectoryStream<Path> dir, boolean unlock, Change change) throws IOException {
        try {
            change.run();
        } catch (AccessDeniedException e) {
            if (!unlock || !unlock(dir)) {
                throw e;
            }
            change.run();
        }
    }

    /**
     * Adds write for its owner to an open directory that lacks it, so that a service that is not
     * root can delete what is in it. It changes the mode through the directory's own descriptor
     * (fchmod): nothing is opened or followed by name. (Search needs no adding: a directory
     * without it cannot have been opened, as {@code name/.}, in the first place.)
     *
     * @return whether the mode was changed; false when it had the bit already, or when the service
     *     does not own the directory
     */
    static boolean unlock(SecureDirectoryStream<Path> dir) {
        PosixFileAttributeView view = dir.getFileAttributeView(PosixFileAttributeView.class);
        if (view == null) {
            return false;
        }
        try {
            Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
            permissions.addAll(view.readAttributes().permissions());
            if (!permissions.add(PosixFilePermission.OWNER_WRITE)) {
                return false;
            }
            view.setPermissions(permissions);
            return true;
        } catch (IOException e) {
            return false; // not its owner
        }
    }

    /** An entry that sandbox code keeps replacing while it is being removed. */
    static final class ChangingException extends FileSystemException {
        ChangingException(Path name) {
            super(name.toString(), null, "keeps changing; try again");
        }
    }

    /**
     * Opens the directory name in dir, or returns null when name no longer names the directory
     * that attributes describe (sandbox code replaced it meanwhile).
     *
     * <p>It opens {@code name/.}, not {@code name}: Java opens with {@code O_RDONLY} and offers
     * no {@code O_DIRECTORY}, and opening a FIFO that way waits for a writer, which sandbox code
     * would never send, holding a service thread for good. Through {@code name/.} the kernel
     * refuses anything but a directory ({@code ENOTDIR}) without opening it. That path follows a
     * link at name, so what was opened must be the very directory checked (same device and
     * inode): a link swapped in, to anywhere, is closed unread.
     */
    static SecureDirectoryStream<Path> openChildDirectory(
            SecureDirectoryStream<Path> dir, Path name, BasicFileAttributes attributes) throws IOException {
        Object key = attributes.fileKey();
        if (!attributes.isDirectory() || key == null) {
            return null;
        }
        SecureDirectoryStream<Path> child;
        try {
            child = dir.newDirectoryStream(name.resolve("."), NOFOLLOW);
        } catch (NoSuchFileException | NotDirectoryException e) {
            return null;
        }
        boolean same = false;
        try {
            same = key.equals(ownKey(child));
        } finally {
            if (!same) {
                child.close();
            }
        }
        return same ? child : null;
    }

    /**
     * Opens the directory at path (a path the service trusts up to its last component) for
     * calls relative to it. It opens {@code path/.}: should sandbox code have put a FIFO in its
     * place, the kernel refuses it rather than wait for a writer.
     */
    static SecureDirectoryStream<Path> openDirectory(Path path) throws IOException {
        DirectoryStream<Path> stream = Files.newDirectoryStream(path.resolve("."));
        if (stream instanceof SecureDirectoryStream<Path> secure) {
            return secure;
        }
        stream.close();
        throw new IOException("this platform cannot open directories race-free (no SecureDirectoryStream)");
    }

    /** The device and inode of an open directory (fstat). */
    static Object ownKey(SecureDirectoryStream<Path> dir) throws IOException {
        return dir.getFileAttributeView(BasicFileAttributeView.class)
                .readAttributes()
                .fileKey();
    }
}
