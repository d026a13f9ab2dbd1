package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.files.Workspace;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which files an execution reports as created or changed, from its two workspace snapshots. */
class FileEventsTest {

    private static final long BEGUN = 1_800_000_000_000_000_000L; // epoch nanoseconds
    private static final Workspace.Stamp OLD = new Workspace.Stamp(5, BEGUN - 3_600_000_000_000L);
    private static final Workspace.Stamp NEW = new Workspace.Stamp(5, BEGUN + 1_000_000L);

    @Test
    void aFileSeenBeforeCountsWhenItsSizeOrTimeChanged() {
        Workspace.Snapshot before = new Workspace.Snapshot(Map.of("a", OLD), true);
        assertFalse(Execution.changed(before, "a", OLD, BEGUN));
        assertTrue(Execution.changed(before, "a", NEW, BEGUN));
        assertTrue(Execution.changed(before, "a", new Workspace.Stamp(6, OLD.modifiedNanos()), BEGUN));
    }

    @Test
    void aFileNotSeenBeforeIsNewWhenTheFirstSnapshotSawEverything() {
        assertTrue(Execution.changed(new Workspace.Snapshot(Map.of(), true), "b", OLD, BEGUN));
    }

    @Test
    void whenTheFirstSnapshotStoppedShortOnlyFilesWrittenSinceTheStartCount() {
        // A workspace past the snapshot's bounds: deleting a directory lets the second walk reach
        // files the first never saw, which this execution did not touch.
        Workspace.Snapshot cut = new Workspace.Snapshot(Map.of(), false);
        assertFalse(Execution.changed(cut, "untouched.csv", OLD, BEGUN));
        assertTrue(Execution.changed(cut, "written.csv", NEW, BEGUN));
    }
}
