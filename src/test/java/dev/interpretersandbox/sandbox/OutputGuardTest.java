package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class OutputGuardTest {

    @Test
    void utf8LengthCountsBytes() {
        assertEquals(1 + 2 + 3 + 4, OutputGuard.utf8Length("a\u00e9\u20ac\ud83d\ude00", 100));
        assertEquals(3, OutputGuard.utf8Length("\udcff", 100), "a lone surrogate is sent as U+FFFD");
    }

    @Test
    void aCutNeverSplitsACharacterOrASurrogatePair() {
        String text = "ab\ud83d\ude00c";
        assertEquals("ab", OutputGuard.prefixWithin(text, 5));
        assertEquals("ab\ud83d\ude00", OutputGuard.prefixWithin(text, 6));
        assertEquals("", OutputGuard.prefixWithin("\u00e9", 1));
    }
}
