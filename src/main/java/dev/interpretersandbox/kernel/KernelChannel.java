package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * The newline-delimited JSON channel to one kernel driver over its stdin/stdout.
 *
 * <p>A daemon reader thread parses each line into a {@link KernelMessage} and queues it; after
 * the last line it queues an end-of-stream marker. Requests are written by one caller at a time
 * (the sandbox's execution lock); {@link #next} is likewise called by that one caller.
 *
 * <p>The driver shares its process with user code, so nothing it sends is trusted to be small: a
 * line longer than {@code maxLine} is skipped unread, and output lines that arrive while more than
 * {@code maxLine} bytes wait in the queue (nobody is executing, or the consumer fell behind) are
 * dropped. Either way a {@code truncated} message takes their place, once per overflow, and the
 * service's memory stays bounded whatever the kernel prints.
 */
public final class KernelChannel {

    private static final Logger LOG = Logger.getLogger(KernelChannel.class);
    private static final int CHUNK = 1 << 16;

    private final ObjectMapper mapper;
    private final OutputStream requests;
    private final int maxLine;
    private final BlockingQueue<KernelMessage> messages = new LinkedBlockingQueue<>();
    private final AtomicLong queuedBytes = new AtomicLong();
    private boolean dropping; // reader thread only

    public KernelChannel(ObjectMapper mapper, Process process, String name, int maxLine) {
        this.mapper = mapper;
        this.requests = process.getOutputStream();
        this.maxLine = maxLine;
        InputStream lines = process.getInputStream();
        Thread reader = new Thread(() -> read(lines), "kernel-reader-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    private void read(InputStream in) {
        byte[] chunk = new byte[CHUNK];
        byte[] line = new byte[CHUNK];
        int length = 0;
        boolean oversize = false;
        try (in) {
            int n;
            while ((n = in.read(chunk)) > 0) {
                int from = 0;
                for (int i = 0; i < n; i++) {
                    if (chunk[i] != '\n') {
                        continue;
                    }
                    int part = i - from;
                    if (!oversize && length + part <= maxLine) {
                        line = fit(line, length + part);
                        System.arraycopy(chunk, from, line, length, part);
                        deliver(line, length + part);
                    } else {
                        overflow("line");
                    }
                    if (line.length > 16 * CHUNK) {
                        line = new byte[CHUNK]; // an idle kernel does not keep a big buffer
                    }
                    length = 0;
                    oversize = false;
                    from = i + 1;
                }
                int rest = n - from;
                if (oversize || length + rest > maxLine) {
                    oversize = true;
                    length = 0;
                } else {
                    line = fit(line, length + rest);
                    System.arraycopy(chunk, from, line, length, rest);
                    length += rest;
                }
            }
        } catch (IOException e) {
            LOG.debugf("kernel channel closed: %s", e.getMessage());
        } finally {
            messages.add(new KernelMessage(KernelMessage.END_OF_STREAM, null, Instant.now(), 0));
        }
    }

    private static byte[] fit(byte[] buffer, int size) {
        return size <= buffer.length ? buffer : Arrays.copyOf(buffer, Math.max(size, buffer.length * 2));
    }

    private void deliver(byte[] line, int length) {
        Instant received = Instant.now();
        JsonNode body;
        try {
            body = mapper.readTree(line, 0, length);
        } catch (IOException e) {
            LOG.warnf("kernel sent a line that is not JSON (%d bytes); ignored", length);
            return;
        }
        String type = body.path("type").asText();
        boolean output = type.equals("stream") || type.equals("display_data");
        if (output && queuedBytes.get() + length > maxLine) {
            overflow("queue");
            return;
        }
        dropping = false;
        queuedBytes.addAndGet(length);
        messages.add(new KernelMessage(type, body, received, length));
    }

    private void overflow(String what) {
        if (!dropping) {
            dropping = true;
            ObjectNode notice = mapper.createObjectNode()
                    .put("type", KernelMessage.TRUNCATED)
                    .put("what", what);
            messages.add(new KernelMessage(KernelMessage.TRUNCATED, notice, Instant.now(), 0));
        }
    }

    /** Sends one request line. */
    public void send(ObjectNode request) throws IOException {
        byte[] line = (mapper.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8);
        requests.write(line);
        requests.flush();
    }

    /** The next message, or null when none arrived within the timeout. */
    public KernelMessage next(long timeoutNanos) throws InterruptedException {
        KernelMessage message = messages.poll(Math.max(0, timeoutNanos), TimeUnit.NANOSECONDS);
        if (message != null) {
            queuedBytes.addAndGet(-message.size());
        }
        return message;
    }

    /** Makes a waiting {@link #next} return a {@link KernelMessage#WAKE} message now. */
    public void wake() {
        messages.add(new KernelMessage(KernelMessage.WAKE, null, Instant.now(), 0));
    }

    /** Drops messages left over from an abandoned execution. */
    public void discardPending() {
        KernelMessage message;
        while ((message = messages.peek()) != null && !message.endOfStream()) {
            if (messages.remove(message)) {
                queuedBytes.addAndGet(-message.size());
            }
        }
    }

    public ObjectNode request(String op) {
        return mapper.createObjectNode().put("op", op);
    }
}
