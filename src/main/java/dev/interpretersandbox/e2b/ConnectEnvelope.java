package dev.interpretersandbox.e2b;

import dev.interpretersandbox.error.SandboxException;
import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Connect RPC's framing for streaming calls: each message is one flags byte, a big-endian uint32
 * length and that many bytes of JSON; flags 0x02 marks the end-of-stream message, which carries
 * {@code {}} or {@code {"error": {...}}}. Compressed messages (0x01) are refused.
 */
final class ConnectEnvelope {

    static final byte END_STREAM = 0x02;
    private static final byte COMPRESSED = 0x01;

    private ConnectEnvelope() {}

    static Buffer frame(byte flags, byte[] json) {
        return Buffer.buffer(5 + json.length)
                .appendByte(flags)
                .appendInt(json.length)
                .appendBytes(json);
    }

    /** The JSON of the one message a server-streaming request carries. */
    static byte[] single(byte[] body) {
        if (body.length < 5) {
            throw SandboxException.invalid("a streaming request carries one enveloped message");
        }
        ByteBuffer in = ByteBuffer.wrap(body);
        byte flags = in.get();
        int length = in.getInt();
        if ((flags & COMPRESSED) != 0) {
            throw SandboxException.invalid("compressed messages are not supported");
        }
        if (length < 0 || length != body.length - 5) {
            throw SandboxException.invalid("the message's length does not match its envelope");
        }
        return Arrays.copyOfRange(body, 5, body.length);
    }
}
