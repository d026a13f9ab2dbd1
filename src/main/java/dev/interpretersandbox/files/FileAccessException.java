package dev.interpretersandbox.files;

import dev.interpretersandbox.error.ServiceException;

/** A file request that cannot be served; carries the HTTP status the API answers with. */
public class FileAccessException extends ServiceException {

    public FileAccessException(int status, String message) {
        super(status, message);
    }

    public static FileAccessException badRequest(String message) {
        return new FileAccessException(400, message);
    }

    public static FileAccessException forbidden(String message) {
        return new FileAccessException(403, message);
    }

    public static FileAccessException notFound() {
        return new FileAccessException(404, "file not found");
    }

    public static FileAccessException exists() {
        return new FileAccessException(409, "file already exists");
    }

    public static FileAccessException tooLarge(String message) {
        return new FileAccessException(413, message);
    }
}
