package dev.interpretersandbox.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.files.Trees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The registry's files: written atomically and privately, read strictly, damage kept to one sandbox. */
class RecordStoreTest {

    private final Path root = createRoot();
    private final RecordStore store = new RecordStore(root.resolve("sandboxes"), root.resolve("removed"));

    private static Path createRoot() {
        try {
            return Files.createTempDirectory("records");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterEach
    void clean() {
        Trees.delete(root);
    }

    private static SandboxRecord record(String id) {
        Instant at = Instant.parse("2026-12-01T10:00:00Z");
        return new SandboxRecord(
                SandboxRecord.VERSION,
                id,
                new SandboxRecord.Limits(1L << 30, 1.0, 512, 1L << 30),
                Map.of("API_KEY", "secret"),
                900_000,
                at,
                at.plusSeconds(5),
                1234,
                SandboxRecord.KernelState.SAVED,
                null,
                true,
                null,
                Map.of("owner", "team-a"),
                List.of("ab".repeat(32)));
    }

    private Path file(String id) {
        return root.resolve("sandboxes").resolve(id).resolve(RecordStore.FILE);
    }

    @Test
    void aSavedRecordReadsBackTheSameAndOnlyItsOwnerCanReadIt() throws IOException {
        store.save(record("sb-1"));
        store.save(record("sb-1")); // overwritten in place
        assertEquals(List.of(new RecordStore.Found("sb-1", record("sb-1"))), store.load());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file("sb-1"))));
        try (Stream<Path> files = Files.list(file("sb-1").getParent())) {
            assertEquals(List.of(file("sb-1")), files.toList(), "no temporary file is left");
        }
    }

    @Test
    void damagedRecordsAreReportedOneByOneAndTheOthersStillLoad() throws IOException {
        store.save(record("sb-good"));
        for (String id : List.of("sb-torn", "sb-dup", "sb-version", "sb-other", "sb-extra", "sb-trailing")) {
            store.save(record(id));
        }
        String json = Files.readString(file("sb-good"));
        Files.writeString(file("sb-torn"), json.substring(0, json.length() / 2));
        Files.writeString(file("sb-dup"), json.replace("{\"version\":1,", "{\"version\":1,\"version\":1,"));
        Files.writeString(file("sb-version"), json.replace("{\"version\":1,", "{\"version\":99,"));
        Files.writeString(file("sb-other"), json.replace("sb-good", "sb-somebody-else"));
        Files.writeString(file("sb-extra"), json.replace("{\"version\":1,", "{\"version\":1,\"surprise\":true,"));
        Files.writeString(file("sb-trailing"), json + "{}");
        Files.createDirectories(root.resolve("sandboxes/sb-no-record/workspace"));

        List<RecordStore.Loaded> loaded = store.load();
        assertEquals(7, loaded.size(), "a directory without a record is not a sandbox: " + loaded);
        for (RecordStore.Loaded one : loaded) {
            if (one.id().equals("sb-good")) {
                assertInstanceOf(RecordStore.Found.class, one);
            } else {
                assertInstanceOf(RecordStore.Damaged.class, one, one.id());
            }
        }
    }

    @Test
    void removedSandboxesAreRememberedOldestFirstWithTheirReasons() {
        Instant start = Instant.parse("2026-12-01T00:00:00Z");
        store.remember(new RecordStore.Removed("sb-old", "idle", start));
        store.remember(new RecordStore.Removed("sb-new", "lifetime", start.plusSeconds(60)));
        List<RecordStore.Removed> removed = store.removed();
        assertEquals(
                List.of("sb-old", "sb-new"),
                removed.stream().map(RecordStore.Removed::id).toList());
        assertEquals("lifetime", removed.get(1).reason());
    }

    @Test
    void aDeletedRecordIsGoneForGood() {
        store.save(record("sb-1"));
        assertTrue(store.exists("sb-1"));
        store.delete("sb-1");
        assertFalse(store.exists("sb-1"));
        assertEquals(List.of(), store.load());
    }
}
