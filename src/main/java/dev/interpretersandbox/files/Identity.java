package dev.interpretersandbox.files;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Who the service runs as. */
public final class Identity {

    private Identity() {}

    public static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot tell which user the service runs as", e);
        }
    }

    public static boolean root() {
        return uid() == 0;
    }
}
