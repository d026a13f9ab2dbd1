package dev.interpretersandbox.registry;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * The durable registry: one small JSON file per sandbox ({@code sandboxes/<id>/sandbox.json}) and
 * one per removed sandbox ({@code removed/<id>.json}, so its id still answers 410 after a
 * restart). Every write is atomic and durable: a temporary file in the same directory, fsync,
 * rename over the old one, fsync of the directory. A torn or corrupt file damages only its own
 * sandbox.
 *
 * <p>Thread-safety: safe for concurrent use; writes of one id must not race (its sandbox
 * serialises them).
 */
public final class RecordStore {

    /** The record's file name inside the sandbox's directory. */
    public static final String FILE = "sandbox.json";

    /** Ids as the service makes them; anything else under the directory is not a sandbox. */
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    /** Removed sandboxes remembered across restarts (the newest). */
    static final int REMEMBERED_REMOVED = 10_000;
    /** Records are a few hundred bytes; a larger file is not one of ours. */
    private static final long MAX_RECORD_BYTES = 1 << 20;

    private final Path sandboxes;
    private final Path removed;
    private final ObjectMapper json = JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** What was found for one sandbox directory. */
    public sealed interface Loaded {
        String id();
    }

    /** A readable record. */
    public record Found(String id, SandboxRecord record) implements Loaded {}

    /** A record that could not be read, and why. The directory is left as it is. */
    public record Damaged(String id, String reason) implements Loaded {}

    /** A sandbox removed earlier: why and when. */
    public record Removed(String id, String reason, Instant at) {}

    public RecordStore(Path sandboxes, Path removed) {
        this.sandboxes = sandboxes;
        this.removed = removed;
    }

    /** Writes the record atomically and durably. */
    public void save(SandboxRecord record) {
        try {
            Path dir = sandboxes.resolve(record.id());
            Files.createDirectories(dir);
            writeAtomically(dir.resolve(FILE), json.writeValueAsBytes(record));
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot save the record of sandbox " + record.id() + ": " + e.getMessage(), e);
        }
    }

    /** Deletes the record (the sandbox is gone); its directory is the caller's to remove. */
    public void delete(String id) {
        try {
            Files.deleteIfExists(sandboxes.resolve(id).resolve(FILE));
            force(sandboxes.resolve(id));
        } catch (NoSuchFileException e) {
            // the directory is already gone
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the record of sandbox " + id + ": " + e.getMessage(), e);
        }
    }

    /** Whether the directory of id holds a record (readable or not). */
    public boolean exists(String id) {
        return Files.exists(sandboxes.resolve(id).resolve(FILE));
    }

    /** Every sandbox directory that holds a record file, read. Directories without one are not listed. */
    public List<Loaded> load() {
        List<Loaded> found = new ArrayList<>();
        if (!Files.isDirectory(sandboxes)) {
            return found;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(sandboxes)) {
            for (Path dir : dirs) {
                String id = dir.getFileName().toString();
                Path file = dir.resolve(FILE);
                if (!ID.matcher(id).matches() || !Files.exists(file)) {
                    continue;
                }
                found.add(read(id, file));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + sandboxes + ": " + e.getMessage(), e);
        }
        found.sort(Comparator.comparing(Loaded::id));
        return found;
    }

    private Loaded read(String id, Path file) {
        try {
            if (Files.size(file) > MAX_RECORD_BYTES) {
                return new Damaged(id, "its record is " + Files.size(file) + " bytes, not a record");
            }
            SandboxRecord record = json.readValue(file.toFile(), SandboxRecord.class);
            if (record.version() != SandboxRecord.VERSION) {
                return new Damaged(
                        id,
                        "its record has version " + record.version() + ", this service reads " + SandboxRecord.VERSION);
            }
            if (!id.equals(record.id())
                    || record.limits() == null
                    || record.createdAt() == null
                    || record.lastActivity() == null
                    || record.kernel() == null) {
                return new Damaged(id, "its record is incomplete");
            }
            return new Found(id, record);
        } catch (IOException | RuntimeException e) {
            return new Damaged(id, "its record cannot be read: " + firstLine(e.getMessage()));
        }
    }

    /** Remembers that id was removed, so it answers 410 after a restart too. */
    public void remember(Removed gone) {
        try {
            Files.createDirectories(removed);
            writeAtomically(removed.resolve(gone.id() + ".json"), json.writeValueAsBytes(gone));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remember removed sandbox " + gone.id() + ": " + e.getMessage(), e);
        }
    }

    /**
     * The removed sandboxes remembered, oldest first; beyond {@link #REMEMBERED_REMOVED} the oldest
     * are forgotten (their files deleted). Unreadable files are skipped.
     */
    public List<Removed> removed() {
        List<Removed> all = new ArrayList<>();
        if (!Files.isDirectory(removed)) {
            return all;
        }
        Map<Removed, Path> files = new LinkedHashMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(removed, "*.json")) {
            for (Path file : entries) {
                try {
                    if (Files.size(file) <= MAX_RECORD_BYTES) {
                        Removed gone = json.readValue(file.toFile(), Removed.class);
                        if (gone.id() != null
                                && gone.at() != null
                                && ID.matcher(gone.id()).matches()) {
                            files.put(gone, file);
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    Files.deleteIfExists(file); // a torn tombstone is worth nothing
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + removed + ": " + e.getMessage(), e);
        }
        all.addAll(files.keySet());
        all.sort(Comparator.comparing(Removed::at));
        while (all.size() > REMEMBERED_REMOVED) {
            Removed oldest = all.remove(0);
            try {
                Files.deleteIfExists(files.get(oldest));
            } catch (IOException e) {
                // forgotten in memory anyway
            }
        }
        return all;
    }

    /** temp file, fsync, rename over target, fsync the directory. */
    static void writeAtomically(Path target, byte[] content) throws IOException {
        Path dir = target.getParent();
        Path temp = dir.resolve("." + target.getFileName() + ".tmp-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            // Owner-only: a record holds the sandbox's environment, which may carry credentials.
            try (FileChannel channel = FileChannel.open(
                    temp,
                    Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
                ByteBuffer buffer = ByteBuffer.wrap(content);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
        force(dir);
    }

    /** fsync of a directory: makes a rename or delete in it durable. */
    private static void force(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unknown error";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
