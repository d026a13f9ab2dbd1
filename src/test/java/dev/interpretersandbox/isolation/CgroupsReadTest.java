package dev.interpretersandbox.isolation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading cgroup counters (usage, peaks) without trusting their content, by path and held open. */
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

    @Test
    void heldCountersSeeNewValuesThroughTheSameOpenFile() throws Exception {
        Path cpu = dir.resolve("cpuacct.usage");
        Path peak = dir.resolve("memory.max_usage_in_bytes");
        Files.writeString(cpu, "1000\n");
        Files.writeString(peak, "4\n");
        try (Cgroups.Counters counters = new Cgroups.Counters(cpu, peak, false)) {
            assertEquals(Optional.of(1000L), counters.cpuNanos());
            assertEquals(Optional.of(4L), counters.peakMemory());
            long inode = (long) Files.getAttribute(cpu, "unix:ino");
            Files.writeString(cpu, "250000\n"); // rewritten in place, as the kernel regenerates it
            assertEquals(inode, (long) Files.getAttribute(cpu, "unix:ino"));
            assertEquals(Optional.of(250000L), counters.cpuNanos());
            counters.resetPeak(); // v1: writes 0 through the held file
            assertEquals("0\n", Files.readString(peak));
            assertEquals(Optional.of(0L), counters.peakMemory());
        }
    }

    @Test
    void unifiedCpuStatIsParsedThePeakResetAndJunkIsUnknown() throws Exception {
        Path stat = dir.resolve("cpu.stat");
        Path peak = dir.resolve("memory.peak");
        Files.writeString(stat, "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
        Files.writeString(peak, "max\n");
        try (Cgroups.Counters counters = new Cgroups.Counters(stat, peak, true)) {
            assertEquals(Optional.of(1_500_000L), counters.cpuNanos());
            assertEquals(Optional.empty(), counters.peakMemory(), "no number");
            counters.resetPeak(); // v2: writes "reset" through the held file
            assertTrue(Files.readString(peak).startsWith("reset"), Files.readString(peak));
            Files.writeString(stat, "user_usec 1000\n");
            assertEquals(Optional.empty(), counters.cpuNanos(), "no usage line");
            Files.writeString(peak, "1".repeat(40) + "\n");
            assertEquals(Optional.empty(), counters.peakMemory(), "too long to be a number");
        }
    }

    @Test
    void countersMissingWhenFirstUsedStayUnknownAndNothingIsReadOnceClosed() throws Exception {
        Path cpu = dir.resolve("none/cpuacct.usage");
        Path peak = dir.resolve("none/memory.max_usage_in_bytes");
        Cgroups.Counters counters = new Cgroups.Counters(cpu, peak, false);
        assertEquals(Optional.empty(), counters.cpuNanos(), "no cgroup (process mode without cgroups)");
        assertEquals(Optional.empty(), counters.peakMemory());
        counters.resetPeak(); // nothing to reset: no error, and no file created
        assertFalse(Files.exists(peak));
        assertFalse(counters.closed());
        counters.close();
        assertTrue(counters.closed());

        Path there = dir.resolve("cpuacct.usage");
        Files.writeString(there, "7\n");
        Cgroups.Counters closed = new Cgroups.Counters(there, there, false);
        closed.close();
        assertEquals(Optional.empty(), closed.cpuNanos(), "closed: nothing is opened again");
        assertEquals(Optional.empty(), closed.peakMemory());
    }
}
