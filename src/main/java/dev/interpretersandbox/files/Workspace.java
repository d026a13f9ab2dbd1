package dev.interpretersandbox.files;

import dev.interpretersandbox.error.SandboxException;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * Host-side access to one sandbox's workspace (its {@code /mnt/data}).
 *
 * <p>Sandbox code can plant symlinks here at any moment, so every operation walks the path one
 * component at a time relative to an already-open directory ({@link SecureDirectoryStream},
 * i.e. openat/mkdirat-style calls with {@code O_NOFOLLOW}) and never acts through a link (where
 * a call follows one, what it reached is checked to be what was found before, and dropped if
 * not): there is no window between checking a path and using it. "Resolve, then check the
 * prefix" would have one.
 * New directories and uploaded files are made in a private staging directory and renamed into
 * place relative to the open parent, since Java has no mkdirat and changes an owner only through
 * an open of the name. Nothing is opened by a name sandbox code could have turned into a FIFO
 * meanwhile (see {@link #openDownload} and {@link Trees#openChildDirectory}): such an open would wait
 * for a writer for good. Staging must be on the workspace's filesystem and mount ({@link
 * #renamesFrom}).
 *
 * <p>Thread-safe: it holds no mutable state; concurrent uploads of one name are decided by
 * {@code O_EXCL}.
 */
public final class Workspace {

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    /** Entries an upload's room check looks at, at most (a few seconds of this host's time). */
    static final int MAX_MEASURED_ENTRIES = 1_000_000;

    private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--"));

    private final Path root;
    private final Path staging;
    private final int uid;

    /** Size and modification time of a regular file, for file events. */
    public record Stamp(long size, long modifiedNanos) {}

    public Workspace(Path root, Path staging, int uid) {
        this.root = root;
        this.staging = staging;
        this.uid = uid;
    }

    public Path root() {
        return root;
    }

    /**
     * Whether a file made in staging can be renamed into workspace, as uploads and new
     * directories are: not across filesystems, nor across two mounts of one filesystem (rename(2)
     * fails with EXDEV there although both report the same device). Leaves nothing behind.
     */
    public static boolean renamesFrom(Path staging, Path workspace) throws IOException {
        Files.createDirectories(staging);
        Files.createDirectories(workspace);
        Path probe = Files.createTempFile(staging, "rename-probe-", "");
        Path moved = workspace.resolve("." + probe.getFileName());
        try {
            Files.move(probe, moved, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (AtomicMoveNotSupportedException e) {
            return false;
        } finally {
            Files.deleteIfExists(probe);
            Files.deleteIfExists(moved);
        }
    }

    /** Creates the workspace directory, owned by the sandbox user, unless it exists. */
    public void create() {
        if (Files.isDirectory(root, NOFOLLOW)) {
            return;
        }
        try {
            Files.createDirectories(root);
            Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
            giveToSandboxUser(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create workspace " + root + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens a new file for an upload: create-only, parents created, owned by the sandbox user.
     * The caller writes the body and then commits (the file is kept) or closes without
     * committing (nothing is left behind).
     *
     * @param maxBytes how many bytes the workspace may still take
     * @param closed told the bytes written once the upload is closed, committed or not
     */
    public Upload openUpload(WorkspacePath path, long maxBytes, LongConsumer closed) throws IOException {
        return openUpload(path, UploadQuota.upTo(maxBytes), closed);
    }

    /** As above, writing into quota's room. */
    public Upload openUpload(WorkspacePath path, UploadQuota quota, LongConsumer closed) throws IOException {
        if (path.isRoot()) {
            throw FileAccessException.badRequest("the path must name a file below " + WorkspacePath.MOUNT);
        }
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        boolean done = false;
        try {
            SecureDirectoryStream<Path> dir = openRoot(opened);
            for (String name : path.parents()) {
                dir = openOrCreateDirectory(dir, name, opened);
            }
            Path name = Path.of(path.fileName());
            // O_EXCL takes the name: of two uploads of one name, the second is a 409.
            try (SeekableByteChannel placeholder = dir.newByteChannel(
                    name, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW), FILE_MODE)) {
                // the empty file holds the name until the staged one replaces it
            } catch (FileAlreadyExistsException e) {
                throw FileAccessException.exists();
            } catch (FileSystemException e) {
                throw refused(e);
            }
            Object placeholder = keyOf(dir, name);
            Upload upload;
            try {
                upload = placeStaged(dir, name, placeholder, opened, quota, closed);
            } catch (IOException | RuntimeException e) {
                deleteQuietly(dir, name, placeholder);
                throw e;
            }
            done = true;
            return upload;
        } finally {
            if (!done) {
                closeAll(opened);
            }
        }
    }

    /**
     * The file an upload writes: made in private staging, given to the sandbox user there (by a
     * name only the service can reach), then renamed over the placeholder relative to the open
     * parent (renameat(2), which never follows a link). Java changes an owner through an open of
     * the name, and in the workspace that name could be a FIFO swapped in by sandbox code, whose
     * open waits for a writer that never comes.
     *
     * <p>Java has no rename that refuses to replace (RENAME_NOREPLACE), so the placeholder is
     * checked to be still there just before: what took its name since (another upload, after
     * sandbox code or a remove took the placeholder away) is not replaced, except in the few
     * microseconds between that check and the rename.
     */
    private Upload placeStaged(
            SecureDirectoryStream<Path> dir,
            Path name,
            Object placeholder,
            Deque<SecureDirectoryStream<Path>> opened,
            UploadQuota quota,
            LongConsumer closed)
            throws IOException {
        Files.createDirectories(staging);
        Path file = staging.resolve("upload-" + UUID.randomUUID());
        FileChannel out = FileChannel.open(
                file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW), FILE_MODE);
        boolean placed = false;
        try {
            giveToSandboxUser(file);
            Object key = Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW)
                    .fileKey();
            try (SecureDirectoryStream<Path> stagingStream = Trees.openDirectory(staging)) {
                if (!Objects.equals(placeholder, keyOf(dir, name))) {
                    throw new FileAccessException(
                            SandboxException.Kind.CONFLICT, "'" + name + "' was replaced during the upload");
                }
                stagingStream.move(file.getFileName(), dir, name);
            } catch (FileSystemException e) {
                throw refused(e); // the placeholder was replaced by a directory meanwhile
            }
            placed = true;
            return new Upload(dir, name, key, out, opened, quota, closed);
        } finally {
            if (!placed) {
                out.close();
                Files.deleteIfExists(file);
            }
        }
    }

    /**
     * Opens a file to be written whole, replacing what has the name at commit (E2B's files.write):
     * the bytes go to a hidden temporary file in the same (already opened) directory and are
     * renamed over the name at commit, so readers see the old file or the new one, and a link
     * planted under the name is replaced, never followed. A directory of that name is a 409.
     */
    public Upload openReplace(WorkspacePath path, long maxBytes, LongConsumer closed) throws IOException {
        return openReplace(path, UploadQuota.upTo(maxBytes), closed);
    }

    /** As above, writing into quota's room. */
    public Upload openReplace(WorkspacePath path, UploadQuota quota, LongConsumer closed) throws IOException {
        if (path.isRoot()) {
            throw FileAccessException.badRequest("the path must name a file below " + WorkspacePath.MOUNT);
        }
        List<String> components = new ArrayList<>(path.parents());
        components.add(".upload-" + UUID.randomUUID());
        Upload upload = openUpload(new WorkspacePath(components), quota, closed);
        try {
            BasicFileAttributes existing = attributes(upload.dir, Path.of(path.fileName()));
            if (existing.isDirectory()) {
                throw new FileAccessException(SandboxException.Kind.CONFLICT, path + " is a directory");
            }
        } catch (FileAccessException e) {
            if (!e.notFoundKind()) {
                upload.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            upload.close();
            throw e;
        }
        upload.replaces = Path.of(path.fileName());
        return upload;
    }

    /** What a directory listing or a stat shows of one entry (never followed if it is a link). */
    public record Entry(
            String name,
            WorkspacePath path,
            EntryType type,
            long size,
            int mode,
            long modifiedMillis,
            String linkTarget) {}

    public enum EntryType {
        FILE,
        DIRECTORY,
        SYMLINK,
        OTHER
    }

    /** One entry, not following a link at its last component. */
    public Entry stat(WorkspacePath path) throws IOException {
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            if (path.isRoot()) {
                openRoot(opened);
                return entry(Files.readAttributes(root, PosixFileAttributes.class, NOFOLLOW), "data", path, null);
            }
            SecureDirectoryStream<Path> dir = walkTo(path.parents(), opened);
            return entry(dir, path.fileName(), path);
        } finally {
            closeAll(opened);
        }
    }

    /** The entries of a directory, and of its subdirectories down to depth (1: its own only). */
    public List<Entry> list(WorkspacePath path, int depth, int limit) throws IOException {
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            SecureDirectoryStream<Path> dir = walkTo(path.components(), opened);
            List<Entry> entries = new ArrayList<>();
            listInto(dir, path, depth, limit, entries);
            return entries;
        } finally {
            closeAll(opened);
        }
    }

    private void listInto(SecureDirectoryStream<Path> dir, WorkspacePath at, int depth, int limit, List<Entry> out)
            throws IOException {
        // At most as many names as may still be listed: a directory of millions of empty files
        // (they cost no quota) must not cost the service memory. Sorted within what was read.
        List<String> names = new ArrayList<>();
        for (Path entry : dir) {
            if (names.size() >= limit - out.size()) {
                break;
            }
            names.add(entry.getFileName().toString());
        }
        names.sort(null);
        for (String name : names) {
            if (out.size() >= limit) {
                return;
            }
            if (name.startsWith(".upload-")) {
                continue; // a write in progress
            }
            WorkspacePath child = at.child(name);
            Entry entry;
            try {
                entry = entry(dir, name, child);
            } catch (FileAccessException e) {
                continue; // gone since the listing
            }
            out.add(entry);
            if (entry.type() == EntryType.DIRECTORY && depth > 1) {
                SecureDirectoryStream<Path> sub = openListedDirectory(dir, Path.of(name), null);
                if (sub == null) {
                    continue; // replaced or removed since the listing: skip
                }
                try (sub) {
                    listInto(sub, child, depth - 1, limit, out);
                } catch (FileSystemException e) {
                    // removed while we listed it: what was read stays
                }
            }
        }
    }

    /** Makes a directory and its parents; false when it existed already. */
    public boolean makeDirectories(WorkspacePath path) throws IOException {
        if (path.isRoot()) {
            return false;
        }
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            SecureDirectoryStream<Path> dir = openRoot(opened);
            for (String name : path.parents()) {
                dir = openOrCreateDirectory(dir, name, opened);
            }
            try {
                BasicFileAttributes existing = attributes(dir, Path.of(path.fileName()));
                if (existing.isDirectory() && !existing.isSymbolicLink()) {
                    return false;
                }
                throw new FileAccessException(SandboxException.Kind.CONFLICT, path + " exists and is not a directory");
            } catch (FileAccessException e) {
                if (!e.notFoundKind()) {
                    throw e;
                }
            }
            openOrCreateDirectory(dir, path.fileName(), opened);
            return true;
        } finally {
            closeAll(opened);
        }
    }

    /** Removes a file, a link (not what it points to) or a directory with everything in it. */
    public void remove(WorkspacePath path) throws IOException {
        if (path.isRoot()) {
            throw FileAccessException.forbidden(WorkspacePath.MOUNT + " itself cannot be removed");
        }
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            SecureDirectoryStream<Path> dir = walkTo(path.parents(), opened);
            Trees.removeEntry(dir, Path.of(path.fileName()), 0, null, false);
        } catch (NoSuchFileException e) {
            throw FileAccessException.notFound();
        } catch (Trees.ChangingException e) {
            throw new FileAccessException(SandboxException.Kind.CONFLICT, path + " keeps changing; try again");
        } catch (FileSystemException e) {
            throw refused(e);
        } finally {
            closeAll(opened);
        }
    }

    /** Renames an entry (a directory with what is in it), replacing a file of the new name. */
    public Entry move(WorkspacePath from, WorkspacePath to) throws IOException {
        if (from.isRoot() || to.isRoot()) {
            throw FileAccessException.forbidden(WorkspacePath.MOUNT + " itself cannot be moved");
        }
        if (to.components().size() > from.components().size()
                && to.components().subList(0, from.components().size()).equals(from.components())) {
            throw FileAccessException.badRequest("a directory cannot be moved into itself");
        }
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            SecureDirectoryStream<Path> source = walkTo(from.parents(), opened);
            attributes(source, Path.of(from.fileName())); // 404 when it is not there
            SecureDirectoryStream<Path> target = openRoot(opened);
            for (String name : to.parents()) {
                target = openOrCreateDirectory(target, name, opened);
            }
            try {
                source.move(Path.of(from.fileName()), target, Path.of(to.fileName()));
            } catch (NoSuchFileException e) {
                throw FileAccessException.notFound();
            } catch (DirectoryNotEmptyException | FileAlreadyExistsException e) {
                throw new FileAccessException(SandboxException.Kind.CONFLICT, to + " exists");
            } catch (FileSystemException e) {
                throw refused(e);
            }
            return entry(target, to.fileName(), to);
        } finally {
            closeAll(opened);
        }
    }

    /** Opens the directory at components, refusing links on the way. */
    private SecureDirectoryStream<Path> walkTo(List<String> components, Deque<SecureDirectoryStream<Path>> opened)
            throws IOException {
        SecureDirectoryStream<Path> dir = openRoot(opened);
        for (String name : components) {
            dir = openDirectory(dir, name, opened);
        }
        return dir;
    }

    private Entry entry(SecureDirectoryStream<Path> dir, String name, WorkspacePath path) throws IOException {
        PosixFileAttributes attributes;
        try {
            attributes = dir.getFileAttributeView(Path.of(name), PosixFileAttributeView.class, NOFOLLOW)
                    .readAttributes();
        } catch (NoSuchFileException | NotDirectoryException e) {
            throw FileAccessException.notFound();
        }
        // A link's target is not shown: reading it by path could pass through a link planted in a
        // parent meanwhile, and the file API never follows links.
        String target = null;
        return entry(attributes, name, path, target);
    }

    private static Entry entry(PosixFileAttributes attributes, String name, WorkspacePath path, String target) {
        EntryType type = attributes.isSymbolicLink()
                ? EntryType.SYMLINK
                : attributes.isDirectory()
                        ? EntryType.DIRECTORY
                        : attributes.isRegularFile() ? EntryType.FILE : EntryType.OTHER;
        int mode = 0;
        for (PosixFilePermission permission : attributes.permissions()) {
            mode |= 1 << (8 - permission.ordinal());
        }
        return new Entry(
                name,
                path,
                type,
                attributes.size(),
                mode,
                attributes.lastModifiedTime().toMillis(),
                target);
    }

    /**
     * A file being uploaded, open for writing in its (already opened) parent directory. Written by
     * one thread at a time; {@link #close} may come from any thread once writing stopped.
     */
    public final class Upload implements Closeable {
        private final SecureDirectoryStream<Path> dir;
        private final Path name;
        private Path replaces; // replace mode: the name the file takes at commit, over what is there
        private final SeekableByteChannel channel;
        private final Deque<SecureDirectoryStream<Path>> opened;
        private final Object fileKey; // what it wrote, so that only that is removed
        private final UploadQuota quota;
        private final LongConsumer closed;
        private long written;
        private boolean committed;
        private boolean over;

        private Upload(
                SecureDirectoryStream<Path> dir,
                Path name,
                Object fileKey,
                SeekableByteChannel channel,
                Deque<SecureDirectoryStream<Path>> opened,
                UploadQuota quota,
                LongConsumer closed) {
            this.dir = dir;
            this.name = name;
            this.fileKey = fileKey;
            this.channel = channel;
            this.opened = opened;
            this.quota = quota;
            this.closed = closed;
        }

        /** Writes all of buffers (one gathering write where the channel has it). */
        public synchronized void write(ByteBuffer... buffers) throws IOException {
            if (over) {
                throw new ClosedChannelException(); // ended (its sandbox was deleted): takes no room
            }
            long size = 0;
            for (ByteBuffer buffer : buffers) {
                size += buffer.remaining();
            }
            if (!quota.take(size)) {
                throw FileAccessException.tooLarge("the upload does not fit in the workspace (limit reached)");
            }
            if (channel instanceof GatheringByteChannel gathering) {
                long left = size;
                while (left > 0) {
                    left -= gathering.write(buffers);
                }
            } else {
                for (ByteBuffer buffer : buffers) {
                    while (buffer.hasRemaining()) {
                        channel.write(buffer);
                    }
                }
            }
            written += size;
        }

        public synchronized long written() {
            return written;
        }

        /** The file's device and inode, the same before and after a commit renames it. */
        public Object fileKey() {
            return fileKey;
        }

        /** The body is complete: the file is kept (in replace mode, renamed over the name). */
        public synchronized long commit() throws IOException {
            if (replaces != null) {
                try {
                    dir.move(name, dir, replaces); // renameat(2): atomic, and never follows a link
                } catch (FileSystemException e) {
                    throw refused(e);
                }
            }
            committed = true;
            close();
            return written;
        }

        /** Ends the upload; without a commit the partial file is removed. Safe to call twice. */
        @Override
        public synchronized void close() {
            if (over) {
                return;
            }
            over = true;
            try {
                channel.close();
            } catch (IOException e) {
                // the file goes below if it was not committed
            }
            if (!committed) {
                deleteQuietly(dir, name, fileKey);
            }
            closeAll(opened);
            quota.end(committed);
            closed.accept(written);
        }
    }

    /**
     * Opens a regular file for a download; the caller closes it. Directories, FIFOs, devices and
     * symbolic links are refused.
     *
     * <p>The file is opened through a hard link in the service's private staging directory,
     * checked to be the regular file the walk found (same device and inode) before it is opened.
     * Opening the name itself could open a FIFO that sandbox code swapped in after the check, and
     * Java opens with {@code O_RDONLY} and no {@code O_NONBLOCK}: that open waits for a writer
     * that never comes and holds a service thread for good. Sandbox code cannot swap anything in
     * under a private name. The link is also the path a zero-copy send uses ({@link
     * Download#stage}). Where no link can be made, see {@link #openInPlace}.
     *
     * @param closed told the bytes sent once the download is closed
     */
    public Download openDownload(WorkspacePath path, LongConsumer closed) throws IOException {
        if (path.isRoot()) {
            throw FileAccessException.badRequest(WorkspacePath.MOUNT + " is a directory");
        }
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            SecureDirectoryStream<Path> dir = openRoot(opened);
            for (String name : path.parents()) {
                dir = openDirectory(dir, name, opened);
            }
            Path name = Path.of(path.fileName());
            Files.createDirectories(staging);
            for (int attempt = 0; attempt < 3; attempt++) {
                BasicFileAttributes attributes = attributes(dir, name);
                if (attributes.isSymbolicLink()) {
                    throw symlink();
                }
                if (attributes.isDirectory()) {
                    throw FileAccessException.badRequest(path + " is a directory");
                }
                if (!attributes.isRegularFile()) {
                    throw FileAccessException.badRequest(path + " is not a regular file (FIFO, socket or device)");
                }
                Path link = staging.resolve("download-" + UUID.randomUUID());
                try {
                    // link(2) by name: it never follows a link at the last component, and
                    // whatever a link planted in a parent reached is refused just below.
                    Files.createLink(link, root.resolve(String.join("/", path.components())));
                } catch (IOException | UnsupportedOperationException e) {
                    // No link: too many links to the file, or a parent renamed since the walk
                    // (the open directory still has the file).
                    return download(path, attributes.size(), openInPlace(dir, name, path), null, closed);
                }
                SeekableByteChannel channel = null;
                try {
                    BasicFileAttributes linked = Files.readAttributes(link, BasicFileAttributes.class, NOFOLLOW);
                    if (linked.isRegularFile() && Objects.equals(attributes.fileKey(), linked.fileKey())) {
                        channel = FileChannel.open(link, StandardOpenOption.READ, NOFOLLOW);
                        return download(path, linked.size(), channel, link, closed);
                    }
                } catch (FileSystemException e) {
                    throw refused(e);
                } finally {
                    if (channel == null) {
                        Files.deleteIfExists(link);
                    }
                }
                // replaced since the check: look again
            }
            throw new FileAccessException(
                    SandboxException.Kind.CONFLICT, path + " keeps changing while it is opened; try again");
        } finally {
            closeAll(opened);
        }
    }

    private Download download(
            WorkspacePath path, long size, SeekableByteChannel channel, Path link, LongConsumer closed)
            throws IOException {
        try {
            return new Download(path, size, ContentTypes.detect(path.fileName(), channel), channel, link, closed);
        } catch (IOException | RuntimeException e) {
            channel.close();
            if (link != null) {
                Files.deleteIfExists(link);
            }
            throw e;
        }
    }

    /**
     * Opens a regular file by its name when no hard link to it can be made (the file has the
     * most links the filesystem allows, the filesystem refuses links, or a parent was renamed
     * since the walk). It opens for reading
     * and writing, which Linux never holds for a FIFO (fifo(7)), and never writes; a FIFO or
     * other unseekable file swapped in since the check is refused. Where the service may not
     * open the file for writing (a read-only file, or a program running from it), the download
     * is refused too rather than risk the waiting open.
     */
    private SeekableByteChannel openInPlace(SecureDirectoryStream<Path> dir, Path name, WorkspacePath path)
            throws IOException {
        SeekableByteChannel channel;
        try {
            channel = dir.newByteChannel(name, Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE, NOFOLLOW));
        } catch (NoSuchFileException e) {
            throw FileAccessException.notFound();
        } catch (IOException e) {
            // A link swapped in is ELOOP, which Java reports as a plain IOException.
            String reason = e instanceof FileSystemException f ? f.getReason() : e.getMessage();
            if (metALink(reason)) {
                throw symlink();
            }
            throw new FileAccessException(
                    SandboxException.Kind.CONFLICT, path + " cannot be opened safely now (" + reason + "); try again");
        }
        try {
            channel.position(0); // lseek(2): a FIFO or socket fails with ESPIPE
            return channel;
        } catch (IOException e) {
            channel.close();
            throw FileAccessException.badRequest(path + " is not a regular file (FIFO, socket or device)");
        }
    }

    /** An open download: the caller sends it and closes it. */
    public final class Download implements Closeable {
        private final WorkspacePath path;
        private final long size;
        private final String contentType;
        private final SeekableByteChannel channel;
        private final LongConsumer closed;
        private Path staged; // the private hard link it was opened through, or the private copy
        private long sent;
        private boolean over;

        private Download(
                WorkspacePath path,
                long size,
                String contentType,
                SeekableByteChannel channel,
                Path staged,
                LongConsumer closed) {
            this.path = path;
            this.size = size;
            this.contentType = contentType;
            this.channel = channel;
            this.staged = staged;
            this.closed = closed;
        }

        public String name() {
            return path.fileName();
        }

        public long size() {
            return size;
        }

        public String contentType() {
            return contentType;
        }

        public SeekableByteChannel channel() {
            return channel;
        }

        /**
         * A path to this very file that sandbox code cannot redirect, for a zero-copy send by
         * name: the private hard link it was opened through, or, where none could be made, a
         * private copy of what was opened.
         */
        public synchronized Path stage() throws IOException {
            if (staged != null) {
                return staged;
            }
            Files.createDirectories(staging);
            Path copy = staging.resolve("download-" + UUID.randomUUID());
            staged = copy;
            try (FileChannel out =
                    FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW)) {
                channel.position(0); // the whole file, whatever was read from the channel before
                long position = 0;
                while (position < size) {
                    long moved = out.transferFrom(channel, position, size - position);
                    if (moved <= 0) {
                        break; // shrank while we copied: the client gets what there was
                    }
                    position += moved;
                }
            }
            return copy;
        }

        /** Bytes handed to the client, for the transfer metrics. */
        public synchronized void sent(long bytes) {
            sent += bytes;
        }

        @Override
        public synchronized void close() {
            if (over) {
                return;
            }
            over = true;
            try {
                channel.close();
            } catch (IOException e) {
                // nothing to do
            }
            if (staged != null) {
                try {
                    Files.deleteIfExists(staged);
                } catch (IOException e) {
                    // the startup sweep empties staging
                }
            }
            closed.accept(sent);
        }
    }

    /**
     * Every regular file (path relative to the workspace, '/'-separated), up to maxFiles of them,
     * looking at no more than maxEntries entries of any kind. Directories, links and FIFOs cost
     * sandbox code no quota; bounded by files alone, a walk of 200 000 links took the service a
     * second here, on every execution.
     */
    public Snapshot snapshot(int maxFiles, int maxEntries) {
        Map<String, Stamp> files = new HashMap<>();
        boolean complete = walk(maxEntries, (prefix, name, attributes) -> {
                    files.put(
                            prefix + name,
                            new Stamp(
                                    attributes.size(),
                                    attributes.lastModifiedTime().to(TimeUnit.NANOSECONDS)));
                    return files.size() < maxFiles;
                })
                .complete();
        return new Snapshot(files, complete);
    }

    /**
     * The regular files a snapshot saw; complete when it looked at every entry (not stopped by
     * its bounds, nor by a file vanishing under it).
     */
    public record Snapshot(Map<String, Stamp> files, boolean complete) {}

    /**
     * Bytes used by regular files in the workspace, for an upload's room. A workspace of more
     * than {@link #MAX_MEASURED_ENTRIES} entries is too costly to measure for every upload: that
     * is a 413 saying so. (Directories more than 64 levels deep are not counted.)
     */
    public long usage() {
        return usage(MAX_MEASURED_ENTRIES, Set.of());
    }

    /** As above, leaving out the files whose keys are in skip (uploads in flight). */
    public long usage(Set<Object> skip) {
        return usage(MAX_MEASURED_ENTRIES, skip);
    }

    long usage(int maxEntries) {
        return usage(maxEntries, Set.of());
    }

    private long usage(int maxEntries, Set<Object> skip) {
        long[] bytes = {0};
        Budget walk = walk(maxEntries, (prefix, name, attributes) -> {
            if (skip.isEmpty() || !skip.contains(attributes.fileKey())) {
                bytes[0] += attributes.size();
            }
            return true;
        });
        if (walk.cut) {
            throw FileAccessException.tooLarge("the workspace holds more than " + maxEntries
                    + " files, directories and links, too many to measure its size for an upload; remove some");
        }
        return bytes[0];
    }

    /** Told of each regular file a walk meets; false ends the walk. */
    private interface FileVisitor {
        boolean file(String prefix, Path name, BasicFileAttributes attributes);
    }

    /** A walk's bounds, and where it stopped. */
    private static final class Budget {
        int left;
        boolean cut; // ran out of entries with some left
        boolean incomplete; // cut, stopped by its visitor, too deep, or a file vanished under it

        Budget(int left) {
            this.left = left;
        }

        boolean complete() {
            return !incomplete;
        }
    }

    private Budget walk(int maxEntries, FileVisitor visitor) {
        Budget budget = new Budget(maxEntries);
        if (!Files.isDirectory(root, NOFOLLOW)) {
            return budget;
        }
        Deque<SecureDirectoryStream<Path>> opened = new ArrayDeque<>();
        try {
            walk(openRoot(opened), "", visitor, budget, 0);
        } catch (IOException | FileAccessException e) {
            budget.incomplete = true; // a file vanishing mid-walk is normal while code runs
        } finally {
            closeAll(opened);
        }
        return budget;
    }

    /**
     * Deletes the workspace and everything in it, never acting through links, and logs what
     * could not be deleted (see {@link Trees#delete}).
     */
    public void delete() {
        Trees.delete(root);
    }

    /** @return false when the walk is over (its visitor said so, or its budget ran out) */
    private boolean walk(SecureDirectoryStream<Path> dir, String prefix, FileVisitor visitor, Budget budget, int depth)
            throws IOException {
        for (Path entry : dir) {
            if (budget.left <= 0) {
                budget.cut = true;
                budget.incomplete = true;
                return false;
            }
            budget.left--;
            Path name = entry.getFileName();
            BasicFileAttributes attributes;
            try {
                attributes = attributes(dir, name);
            } catch (FileAccessException e) {
                continue;
            }
            if (attributes.isRegularFile()) {
                if (!visitor.file(prefix, name, attributes)) {
                    budget.incomplete = true;
                    return false;
                }
            } else if (attributes.isDirectory()) {
                if (depth >= 64) {
                    budget.incomplete = true;
                    continue;
                }
                SecureDirectoryStream<Path> child = openListedDirectory(dir, name, attributes);
                if (child == null) {
                    continue; // replaced or removed since we listed it: skip
                }
                try (child) {
                    if (!walk(child, prefix + name + "/", visitor, budget, depth + 1)) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private SecureDirectoryStream<Path> openRoot(Deque<SecureDirectoryStream<Path>> opened) throws IOException {
        SecureDirectoryStream<Path> secure;
        try {
            // Sandbox code can rename the workspace itself where it sits in a directory that code
            // may write: a FIFO put in its place is refused, not waited on.
            secure = Trees.openDirectory(root);
        } catch (NoSuchFileException | NotDirectoryException e) {
            throw FileAccessException.notFound();
        }
        opened.push(secure);
        return secure;
    }

    private SecureDirectoryStream<Path> openDirectory(
            SecureDirectoryStream<Path> dir, String name, Deque<SecureDirectoryStream<Path>> opened)
            throws IOException {
        BasicFileAttributes attributes = attributes(dir, Path.of(name));
        if (attributes.isSymbolicLink()) {
            throw symlink();
        }
        if (!attributes.isDirectory()) {
            throw FileAccessException.notFound();
        }
        try {
            SecureDirectoryStream<Path> child = Trees.openChildDirectory(dir, Path.of(name), attributes);
            if (child == null) {
                throw FileAccessException.notFound(); // replaced since the check
            }
            opened.push(child);
            return child;
        } catch (NoSuchFileException e) {
            throw FileAccessException.notFound();
        } catch (FileSystemException e) {
            throw refused(e);
        }
    }

    /** A directory met in a listing, or null when it is gone or was replaced since. */
    private SecureDirectoryStream<Path> openListedDirectory(
            SecureDirectoryStream<Path> dir, Path name, BasicFileAttributes attributes) {
        try {
            return Trees.openChildDirectory(dir, name, attributes != null ? attributes : attributes(dir, name));
        } catch (IOException | FileAccessException e) {
            return null;
        }
    }

    private SecureDirectoryStream<Path> openOrCreateDirectory(
            SecureDirectoryStream<Path> dir, String name, Deque<SecureDirectoryStream<Path>> opened)
            throws IOException {
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                BasicFileAttributes attributes = attributes(dir, Path.of(name));
                if (attributes.isSymbolicLink()) {
                    throw symlink();
                }
                if (!attributes.isDirectory()) {
                    throw new FileAccessException(
                            SandboxException.Kind.CONFLICT, "'" + name + "' exists and is not a directory");
                }
                return openDirectory(dir, name, opened);
            } catch (FileAccessException e) {
                if (!e.notFoundKind()) {
                    throw e;
                }
            }
            createDirectory(dir, name);
        }
        throw new FileAccessException(SandboxException.Kind.CONFLICT, "'" + name + "' keeps changing; try again");
    }

    /** mkdirat without mkdirat: make it in private staging, then rename it into the open parent. */
    private void createDirectory(SecureDirectoryStream<Path> parent, String name) throws IOException {
        Files.createDirectories(staging);
        Path fresh = Files.createTempDirectory(
                staging, "dir", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            giveToSandboxUser(fresh);
            try (SecureDirectoryStream<Path> secureStaging = Trees.openDirectory(staging)) {
                // renameat(2) onto an existing empty directory would replace it; check first and
                // tolerate the (harmless: empty replaces empty) race.
                try {
                    attributes(parent, Path.of(name));
                    return; // appeared meanwhile; the caller opens it
                } catch (FileAccessException e) {
                    if (!e.notFoundKind()) {
                        throw e;
                    }
                }
                secureStaging.move(fresh.getFileName(), parent, Path.of(name));
            } catch (DirectoryNotEmptyException | FileAlreadyExistsException e) {
                // someone else created it: fine
            }
        } finally {
            Files.deleteIfExists(fresh);
        }
    }

    private BasicFileAttributes attributes(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            return dir.getFileAttributeView(name, BasicFileAttributeView.class, NOFOLLOW)
                    .readAttributes();
        } catch (NoSuchFileException e) {
            throw FileAccessException.notFound();
        } catch (NotDirectoryException e) {
            throw FileAccessException.notFound();
        }
    }

    /**
     * Makes the sandbox user (and its group) the owner of path, which the service has just made
     * in private staging, or before any sandbox code ran; a link at path would be changed itself,
     * never followed.
     */
    private void giveToSandboxUser(Path path) throws IOException {
        Files.setAttribute(path, "unix:uid", uid, NOFOLLOW);
        Files.setAttribute(path, "unix:gid", uid, NOFOLLOW);
    }

    /** Deletes the file an upload made, unless something else has taken its name since. */
    private void deleteQuietly(SecureDirectoryStream<Path> dir, Path name, Object key) {
        try {
            if (key != null && key.equals(keyOf(dir, name))) {
                dir.deleteFile(name);
            }
        } catch (IOException e) {
            // already gone
        }
    }

    /** The device and inode at name (not following a link), or null when nothing is there. */
    private Object keyOf(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        try {
            return attributes(dir, name).fileKey();
        } catch (FileAccessException e) {
            return null;
        }
    }

    private static FileAccessException symlink() {
        return FileAccessException.forbidden("symbolic links are not followed by the file API");
    }

    /** Whether an open with O_NOFOLLOW failed on a link (ELOOP), from the JDK's wording. */
    private static boolean metALink(String reason) {
        String text = String.valueOf(reason);
        return text.contains("NOFOLLOW_LINKS") || text.toLowerCase().contains("symbolic link");
    }

    private static FileAccessException refused(FileSystemException e) {
        String reason = String.valueOf(e.getReason()).toLowerCase();
        if (metALink(e.getReason())) {
            return symlink();
        }
        if (reason.contains("not a directory")) {
            return FileAccessException.notFound();
        }
        return FileAccessException.badRequest("cannot access the path: " + e.getReason());
    }

    private static void closeAll(Deque<SecureDirectoryStream<Path>> opened) {
        while (!opened.isEmpty()) {
            try {
                opened.pop().close();
            } catch (IOException e) {
                // nothing useful to do
            }
        }
    }
}
