package dev.interpretersandbox.isolation;

/** Human-readable byte sizes for messages. */
public final class Sizes {
    private Sizes() {}

    public static String human(long bytes) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return unit == 0
                ? bytes + " bytes"
                : (value == Math.rint(value) ? String.valueOf((long) value) : String.format("%.1f", value)) + " "
                        + units[unit];
    }
}
