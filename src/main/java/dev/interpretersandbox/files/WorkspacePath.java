package dev.interpretersandbox.files;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A path as sandbox code sees it ({@code /mnt/data/a/b.csv}), checked and split into the
 * components below the workspace root. Only the workspace is served; anything that could step
 * out of it by name ({@code ..}, {@code .}, NUL, control characters) is refused here. Symlinks
 * are the job of {@link Workspace}, which never follows them.
 */
public record WorkspacePath(List<String> components) {

    public static final String MOUNT = "/mnt/data";
    private static final int MAX_COMPONENT_BYTES = 255;
    private static final int MAX_DEPTH = 64;
    /**
     * How the JVM turns file names into bytes: from the locale it started in, and not settable
     * after. Without a UTF-8 locale (a container with no LANG) it is ASCII, and a name it cannot
     * encode makes Path.of throw.
     */
    public static final Charset FILE_NAMES = fileNames();

    public WorkspacePath {
        components = List.copyOf(components);
    }

    private static Charset fileNames() {
        try {
            return Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        } catch (IllegalArgumentException e) {
            return StandardCharsets.UTF_8;
        }
    }

    /** Parses the API form; throws {@link FileAccessException} (400 or 403) when it is not acceptable. */
    public static WorkspacePath parse(String raw) {
        if (raw == null || raw.isEmpty()) {
            throw FileAccessException.badRequest("a path is required, e.g. /mnt/data/data.csv");
        }
        String path = raw.startsWith("/") ? raw : "/" + raw;
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == 0 || c < 0x20 || c == 0x7f) {
                throw FileAccessException.badRequest("the path contains a control character");
            }
        }
        String[] parts = path.substring(1).split("/", -1);
        List<String> components = new ArrayList<>();
        for (String part : parts) {
            if (part.equals("..") || part.equals(".")) {
                throw FileAccessException.badRequest("the path must not contain '.' or '..' components");
            }
            if (part.isEmpty()) {
                continue;
            }
            if (part.getBytes(StandardCharsets.UTF_8).length > MAX_COMPONENT_BYTES) {
                throw FileAccessException.badRequest("a path component is longer than 255 bytes");
            }
            if (!FILE_NAMES.newEncoder().canEncode(part)) {
                throw FileAccessException.badRequest(
                        FILE_NAMES.equals(StandardCharsets.UTF_8)
                                ? "the path is not valid Unicode (a lone surrogate)"
                                : "the service cannot use the name " + part
                                        + ": it runs without a UTF-8 locale, so file names are " + FILE_NAMES
                                        + " (start it with LANG=C.UTF-8)");
            }
            components.add(part);
        }
        if (components.size() < 2
                || !components.get(0).equals("mnt")
                || !components.get(1).equals("data")) {
            throw FileAccessException.forbidden("only files under " + MOUNT + " can be accessed");
        }
        List<String> below = components.subList(2, components.size());
        if (below.size() > MAX_DEPTH) {
            throw FileAccessException.badRequest("the path is nested too deeply");
        }
        return new WorkspacePath(below);
    }

    /** The entry name below this directory. */
    public WorkspacePath child(String name) {
        List<String> longer = new ArrayList<>(components);
        longer.add(name);
        return new WorkspacePath(longer);
    }

    public boolean isRoot() {
        return components.isEmpty();
    }

    public String fileName() {
        return components.get(components.size() - 1);
    }

    public List<String> parents() {
        return components.subList(0, components.size() - 1);
    }

    @Override
    public String toString() {
        return MOUNT + (components.isEmpty() ? "" : "/" + String.join("/", components));
    }
}
