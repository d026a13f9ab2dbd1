package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The newline-delimited JSON channel to one kernel driver over its stdin/stdout.
 *
 * <p>A daemon reader thread parses each line into a {@link KernelMessage} and queues it; after
 * the last line it queues an end-of-stream marker. Requests are written by one caller at a time
 * (the sandbox's execution lock); {@link #next} is likewise called by that one caller.
 */
public final class KernelChannel {

    private static final Logger LOG = Logger.getLogger(KernelChannel.class);

    private final ObjectMapper mapper;
    private final OutputStream requests;
    private final BlockingQueue<KernelMessage> messages = new LinkedBlockingQueue<>();

    public KernelChannel(ObjectMapper mapper, Process process, String name) {
        this.mapper = mapper;
        this.requests = process.getOutputStream();
        BufferedReader lines =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8), 1 << 16);
        Thread reader = new Thread(() -> read(lines), "kernel-reader-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    private void read(BufferedReader lines) {
        try (lines) {
            String line;
            while ((line = lines.readLine()) != null) {
                Instant received = Instant.now();
                try {
                    JsonNode body = mapper.readTree(line);
                    messages.add(new KernelMessage(body.path("type").asText(), body, received));
                } catch (IOException e) {
                    LOG.warnf("kernel sent a line that is not JSON (%d chars); ignored", line.length());
                }
            }
        } catch (IOException e) {
            LOG.debugf("kernel channel closed: %s", e.getMessage());
        } finally {
            messages.add(new KernelMessage(KernelMessage.END_OF_STREAM, null, Instant.now()));
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
        return messages.poll(Math.max(0, timeoutNanos), TimeUnit.NANOSECONDS);
    }

    /** Drops messages left over from an abandoned execution. */
    public void discardPending() {
        messages.removeIf(m -> !m.endOfStream());
    }

    public ObjectNode request(String op) {
        return mapper.createObjectNode().put("op", op);
    }
}
