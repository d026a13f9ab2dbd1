package dev.interpretersandbox.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LogSafeTest {

    @Test
    void controlCharactersThatCouldForgeOrHideLogLinesBecomeVisibleEscapes() {
        String quoted = LogSafe.quote("a\nINFO forged\r\u001b[31mred\u0085x\u2028y\u202egnp.exe\\");
        assertEquals("a\\nINFO forged\\u000d\\u001b[31mred\\u0085x\\u2028y\\u202egnp.exe\\\\", quoted);
        assertFalse(quoted.chars().anyMatch(c -> c < 0x20 || (c >= 0x7f && c <= 0x9f)));
    }

    @Test
    void longTextIsCutAndSaysHowLongItWas() {
        String quoted = LogSafe.quote("x".repeat(100_000));
        assertTrue(quoted.length() < 2100, quoted.length() + "");
        assertTrue(quoted.endsWith("...(100000 characters)"));
        assertEquals("null", LogSafe.quote(null));
        assertEquals("plain text, é ✓", LogSafe.quote("plain text, é ✓"));
    }
}
