package dev.interpretersandbox.files;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import org.jboss.logging.Logger;

/**
 * Deleting directory trees that sandbox code may write into (workspaces, scratch directories,
 * bundles) while a process of it may still run (process mode without a cgroup cannot kill what
 * left its process tree). The service is often root, so it must never delete through a link:
 * a walk by path would let such a process swap a directory it is in for a link to {@code /}
 * between the walk's check and its next step. So every step is relative to an open directory
 * ({@link SecureDirectoryStream}: unlinkat, openat with O_NOFOLLOW), and a directory is opened as
 * {@code name/.} and checked to be the one found (see {@link #openChildDirectory}).
 */
public final class Trees {

    private static final Logger LOG = Logger.getLogger(Trees.class);
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final int MAX_DEPTH = 1000;

    private Trees() {}

    /** Deletes a tree (or a file, or a link itself); logs failures. */
    public static void delete(Path root) {
        try {
            BasicFileAttributes attributes;
            try {
                attributes = Files.readAttributes(root, BasicFileAttributes.class, NOFOLLOW);
            } catch (NoSuchFileException e) {
                return;
            }
            if (attributes.isDirectory()) {
                // root's own parent is the service's; root/. refuses a FIFO put in its place
                try (DirectoryStream<Path> stream = Files.newDirectoryStream(root.resolve("."))) {
                    if (!(stream instanceof SecureDirectoryStream<Path> dir)) {
                        throw new IOException("this platform cannot delete race-free (no SecureDirectoryStream)");
                    }
                    if (!Objects.equals(attributes.fileKey(), ownKey(dir))) {
                        throw new IOException("replaced while it was opened");
                    }
                    deleteContents(dir, 0);
                }
            }
            Files.deleteIfExists(root);
        } catch (IOException e) {
            LOG.warnf("cannot delete %s: %s", root, e.getMessage());
        }
    }

    /**
     * Deletes what is in dir. Each directory is closed once emptied, so a deep tree holds one
     * descriptor per level it is in, and the depth is bounded (code can nest far deeper than any
     * path the API takes). Entries that vanish meanwhile are skipped.
     */
    static void deleteContents(SecureDirectoryStream<Path> dir, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new IOException("directories nested deeper than " + MAX_DEPTH + " levels");
        }
        for (Path entry : dir) {
            try {
                removeEntry(dir, entry.getFileName(), depth + 1);
            } catch (NoSuchFileException e) {
                // removed meanwhile
            }
        }
    }

    /** Removes the entry name in dir: a file or link itself, a directory with what is in it. */
    static void removeEntry(SecureDirectoryStream<Path> dir, Path name, int depth) throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            BasicFileAttributes attributes = dir.getFileAttributeView(name, BasicFileAttributeView.class, NOFOLLOW)
                    .readAttributes();
            if (!attributes.isDirectory()) {
                dir.deleteFile(name);
                return;
            }
            SecureDirectoryStream<Path> child = openChildDirectory(dir, name, attributes);
            if (child == null) {
                continue; // replaced since the check: look again
            }
            try (child) {
                deleteContents(child, depth);
            }
            dir.deleteDirectory(name);
            return;
        }
        throw new FileSystemException(name.toString(), null, "keeps changing; try again");
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

    /** The device and inode of an open directory (fstat). */
    static Object ownKey(SecureDirectoryStream<Path> dir) throws IOException {
        return dir.getFileAttributeView(BasicFileAttributeView.class)
                .readAttributes()
                .fileKey();
    }
}
