package dev.interpretersandbox.isolation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading one-number cgroup files (usage, peaks) without trusting their content. */
class CgroupsReadTest {

    @TempDir
    Path dir;

    private Optional<Long> read(String content) throws Exception {
        Path file = dir.resolve("value");
        Files.writeString(file, content);
        return Cgroups.readLong(file);
    }

    @Test
    void numbersLimitsAndJunk() throws Exception {
        assertEquals(Optional.of(123456789L), read("123456789\n"));
        assertEquals(Optional.of(Long.MAX_VALUE), read(Long.MAX_VALUE + "\n"));
        assertEquals(Optional.empty(), read("max\n"), "no limit");
        assertEquals(Optional.empty(), read("12 34\n"));
        assertEquals(Optional.empty(), read(""));
        // Longer than any number: never cut into a different number.
        assertEquals(Optional.empty(), read("1".repeat(40) + "\n"));
        assertEquals(Optional.empty(), Cgroups.readLong(dir.resolve("missing")));
    }
}
