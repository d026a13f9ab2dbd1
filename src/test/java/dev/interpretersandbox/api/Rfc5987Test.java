package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class Rfc5987Test {
    @Test
    void attrCharsStayAndEverythingElseIsPercentEncoded() {
        assertEquals("report-1_final.csv", Transfers.rfc5987("report-1_final.csv"));
        assertEquals("a%20b%22c%3B%25", Transfers.rfc5987("a b\"c;%"));
        assertEquals("%E6%95%B0.txt", Transfers.rfc5987("数.txt"));
    }
}
