package dev.interpretersandbox.files;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * Content-Type of a download: from the file name first (what a browser and a user expect for
 * .csv or .png), then from the first bytes (magic numbers; UTF-8 text), else octet-stream.
 */
public final class ContentTypes {

    public static final String OCTET_STREAM = "application/octet-stream";
    private static final int SNIFF_BYTES = 512;

    private static final Map<String, String> BY_EXTENSION = Map.ofEntries(
            Map.entry("png", "image/png"),
            Map.entry("jpg", "image/jpeg"),
            Map.entry("jpeg", "image/jpeg"),
            Map.entry("gif", "image/gif"),
            Map.entry("webp", "image/webp"),
            Map.entry("bmp", "image/bmp"),
            Map.entry("tif", "image/tiff"),
            Map.entry("tiff", "image/tiff"),
            Map.entry("ico", "image/vnd.microsoft.icon"),
            Map.entry("svg", "image/svg+xml"),
            Map.entry("pdf", "application/pdf"),
            Map.entry("csv", "text/csv"),
            Map.entry("tsv", "text/tab-separated-values"),
            Map.entry("txt", "text/plain"),
            Map.entry("log", "text/plain"),
            Map.entry("md", "text/markdown"),
            Map.entry("html", "text/html"),
            Map.entry("htm", "text/html"),
            Map.entry("css", "text/css"),
            Map.entry("xml", "application/xml"),
            Map.entry("json", "application/json"),
            Map.entry("jsonl", "application/x-ndjson"),
            Map.entry("ndjson", "application/x-ndjson"),
            Map.entry("js", "text/javascript"),
            Map.entry("py", "text/x-python"),
            Map.entry("ipynb", "application/x-ipynb+json"),
            Map.entry("yaml", "application/yaml"),
            Map.entry("yml", "application/yaml"),
            Map.entry("zip", "application/zip"),
            Map.entry("gz", "application/gzip"),
            Map.entry("tar", "application/x-tar"),
            Map.entry("parquet", "application/vnd.apache.parquet"),
            Map.entry("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            Map.entry("xls", "application/vnd.ms-excel"),
            Map.entry("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            Map.entry("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
            Map.entry("mp3", "audio/mpeg"),
            Map.entry("wav", "audio/wav"),
            Map.entry("mp4", "video/mp4"),
            Map.entry("npy", OCTET_STREAM),
            Map.entry("pkl", OCTET_STREAM));

    private ContentTypes() {}

    /** Detects the type; leaves the channel positioned at 0. */
    public static String detect(String fileName, SeekableByteChannel channel) throws IOException {
        String byName = byName(fileName);
        if (byName != null) {
            return byName;
        }
        ByteBuffer head = ByteBuffer.allocate(SNIFF_BYTES);
        while (head.hasRemaining() && channel.read(head) > 0) {
            // fill what the file has
        }
        channel.position(0);
        head.flip();
        byte[] bytes = new byte[head.remaining()];
        head.get(bytes);
        return byContent(bytes);
    }

    static String byName(String fileName) {
        int dot = fileName.lastIndexOf('.');
        if (dot < 0 || dot == fileName.length() - 1) {
            return null;
        }
        return BY_EXTENSION.get(fileName.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    static String byContent(byte[] head) {
        if (startsWith(head, 0x89, 'P', 'N', 'G')) {
            return "image/png";
        }
        if (startsWith(head, 0xFF, 0xD8, 0xFF)) {
            return "image/jpeg";
        }
        if (startsWith(head, 'G', 'I', 'F', '8')) {
            return "image/gif";
        }
        if (startsWith(head, '%', 'P', 'D', 'F')) {
            return "application/pdf";
        }
        if (startsWith(head, 'P', 'K', 3, 4)) {
            return "application/zip";
        }
        if (startsWith(head, 0x1F, 0x8B)) {
            return "application/gzip";
        }
        if (head.length == 0) {
            return "text/plain; charset=utf-8";
        }
        return isText(head) ? "text/plain; charset=utf-8" : OCTET_STREAM;
    }

    private static boolean isText(byte[] head) {
        for (byte b : head) {
            if (b == 0) {
                return false;
            }
        }
        try {
            StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(head, 0, trimPartialCharacter(head)));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    /** The sniffed prefix may cut a multi-byte character in two; ignore that last partial one. */
    private static int trimPartialCharacter(byte[] head) {
        int end = head.length;
        for (int back = 1; back <= 3 && end - back >= 0; back++) {
            int b = head[end - back] & 0xFF;
            if ((b & 0xC0) == 0xC0) {
                return end - back;
            }
            if ((b & 0x80) == 0) {
                return end;
            }
        }
        return end;
    }

    private static boolean startsWith(byte[] head, int... magic) {
        if (head.length < magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((head[i] & 0xFF) != magic[i]) {
                return false;
            }
        }
        return true;
    }
}
