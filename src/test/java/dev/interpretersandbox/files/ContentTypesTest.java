package dev.interpretersandbox.files;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ContentTypesTest {

    @Test
    void namesDecideFirst() {
        assertEquals("text/csv", ContentTypes.byName("data.CSV"));
        assertEquals("image/png", ContentTypes.byName("plot.png"));
        assertEquals("application/json", ContentTypes.byName("a.b.json"));
        assertEquals(null, ContentTypes.byName("README"));
        assertEquals(null, ContentTypes.byName("trailing."));
    }

    @Test
    void contentDecidesWithoutAKnownName() {
        assertEquals("image/png", ContentTypes.byContent(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10}));
        assertEquals("application/pdf", ContentTypes.byContent("%PDF-1.7".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("text/plain; charset=utf-8", ContentTypes.byContent("héllo".getBytes(StandardCharsets.UTF_8)));
        assertEquals("application/octet-stream", ContentTypes.byContent(new byte[] {1, 0, 2}));
        assertEquals("application/octet-stream", ContentTypes.byContent(new byte[] {(byte) 0xff, (byte) 0xfe, 'a'}));
    }

    @Test
    void aMultiByteCharacterCutAtTheSniffLimitIsStillText() {
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8);
        byte[] cut = {'a', 'b', euro[0], euro[1]};
        assertEquals("text/plain; charset=utf-8", ContentTypes.byContent(cut));
    }
}
