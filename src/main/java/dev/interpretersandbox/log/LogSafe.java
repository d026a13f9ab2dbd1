package dev.interpretersandbox.log;

/**
 * Text from kernels, file names and ids made safe for the service's log: control characters
 * (ANSI escapes, newlines that would forge log lines, U+0085, U+2028/U+2029, bidirectional
 * overrides) become visible escapes, and very long text is cut. Everything a sandbox or a client
 * chooses goes through here before it is logged.
 */
public final class LogSafe {

    private static final int MAX = 2000;

    private LogSafe() {}

    public static String quote(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX) + 8);
        for (int i = 0; i < text.length() && out.length() < MAX; i++) {
            char c = text.charAt(i);
            if (c == '\\') {
                out.append("\\\\");
            } else if (c == '\n') {
                out.append("\\n");
            } else if (c == '\t') {
                out.append("\\t");
            } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029 || isBidi(c)) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (text.length() > MAX) {
            out.append("...(").append(text.length()).append(" characters)");
        }
        return out.toString();
    }

    private static boolean isBidi(char c) {
        return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f;
    }
}
