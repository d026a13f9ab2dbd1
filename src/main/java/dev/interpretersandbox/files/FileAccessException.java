package dev.interpretersandbox.files;

import dev.interpretersandbox.error.SandboxException;

/** A file request that cannot be served, with the kind of refusal. */
public class FileAccessException extends SandboxException {

    public FileAccessException(Kind kind, String message) {
        super(kind, message);
    }

    public static FileAccessException badRequest(String message) {
        return new FileAccessException(Kind.INVALID, message);
    }

    public static FileAccessException forbidden(String message) {
        return new FileAccessException(Kind.FORBIDDEN, message);
    }

    public static FileAccessException notFound() {
        return new FileAccessException(Kind.NOT_FOUND, "file not found");
    }

    public static FileAccessException exists() {
        return new FileAccessException(Kind.CONFLICT, "file already exists");
    }

    public static FileAccessException tooLarge(String message) {
        return new FileAccessException(Kind.TOO_LARGE, message);
    }

    public boolean notFoundKind() {
        return kind() == Kind.NOT_FOUND;
    }
}
