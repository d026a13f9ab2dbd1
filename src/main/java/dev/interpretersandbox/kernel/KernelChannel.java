package dev.interpretersandbox.kernel;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.interpretersandbox.kernel.DriverMessage.Cut;
import dev.interpretersandbox.kernel.DriverMessage.StreamName;
import dev.interpretersandbox.log.LogSafe;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The newline-delimited JSON channel to one kernel driver over its stdin/stdout, and the one place
 * that reads and parses what the driver sends.
 *
 * <p>Everything from the driver is untrusted: user code shares its process and can write any bytes
 * to the channel's file descriptor. So a daemon reader thread reads lines of at most {@link
 * Limits#maxLine} bytes and parses each into a {@link DriverMessage} with strict checks of its
 * fields, and hands it to the current listener on the reader thread; with no listener it is
 * dropped. Nothing is queued, so the service's memory holds one line at most, and a listener that
 * blocks (a client that reads slowly) stops the reading and with it the kernel's writes.
 *
 * <p>The channel counts what it reads per epoch (one request and the quiet time after it, see
 * {@link #newEpoch}). A line longer than the limit, more bytes than a driver can legitimately send
 * in an epoch, or a run of malformed lines is a broken protocol: the channel reports a {@link
 * DriverMessage.Violation}, stops reading for good, and the kernel is restarted by its owner.
 * Unknown message types and malformed lines below that threshold are dropped and counted.
 *
 * <p>Thread-safety: one reader thread; {@link #listen}, {@link #newEpoch} and {@link #send} may be
 * called from any thread, with sends serialised by the caller (one request at a time).
 */
public final class KernelChannel {

    private static final Logger LOG = Logger.getLogger(KernelChannel.class);
    private static final int CHUNK = 1 << 16;
    /** Malformed lines per epoch before the channel gives up on the kernel. */
    static final int MAX_MALFORMED = 16;

    /** Bounds of what the channel takes from the driver. */
    public record Limits(int maxLine, long epochBytes) {}

    /** Dropped lines, for metrics: unknown types and malformed lines. */
    public interface DropCounter {
        void dropped(String why);
    }

    private final ObjectMapper mapper;
    private final OutputStream requests;
    private final Limits limits;
    private final String name;
    private final DropCounter drops;
    private final Thread reader;
    private volatile Consumer<DriverMessage> listener;
    private volatile String violation;
    private volatile DriverMessage end;
    private final AtomicLong epochBytes = new AtomicLong();
    private final AtomicInteger malformed = new AtomicInteger();

    public KernelChannel(
            ObjectMapper mapper,
            InputStream lines,
            OutputStream requests,
            String name,
            Limits limits,
            DropCounter drops) {
        this.mapper = strict(mapper, limits.maxLine());
        this.requests = requests;
        this.limits = limits;
        this.name = name;
        this.drops = drops;
        this.reader = new Thread(() -> read(lines), "kernel-reader-" + name);
        reader.setDaemon(true);
    }

    /** Starts reading, once the first listener is in place (the driver's ready line must not be missed). */
    public synchronized void start() {
        if (reader.getState() == Thread.State.NEW) {
            reader.start();
        }
    }

    /**
     * A mapper that takes strings as long as a line may be (Jackson's default limit of 20 M
     * characters silently dropped large displays) and refuses duplicate keys.
     */
    private static ObjectMapper strict(ObjectMapper mapper, int maxLine) {
        JsonFactory factory = mapper.getFactory().copy();
        factory.setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength(maxLine)
                .maxNestingDepth(64)
                .build());
        factory.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        return new ObjectMapper(factory);
    }

    /** Where messages go from now on; null drops them. */
    public void listen(Consumer<DriverMessage> consumer) {
        listener = consumer;
    }

    /** Starts counting the bytes of a new request and the quiet time after it. */
    public void newEpoch() {
        epochBytes.set(0);
        malformed.set(0);
    }

    /** Why the kernel broke the protocol, once it has (the channel then reads no more). */
    public String violation() {
        return violation;
    }

    /** The channel's last message, {@link DriverMessage.Closed} or a violation, once it ended. */
    public DriverMessage end() {
        return end;
    }

    /** Sends one request line; blocks while the pipe is full. */
    public void send(byte[] line) throws IOException {
        requests.write(line);
        requests.flush();
    }

    public ObjectMapper mapper() {
        return mapper;
    }

    private void read(InputStream in) {
        byte[] chunk = new byte[CHUNK];
        byte[] line = new byte[CHUNK];
        int length = 0;
        long oversize = -1; // bytes of a line past the limit, while skipping it
        try (in) {
            int n;
            while (violation == null && (n = in.read(chunk)) > 0) {
                if (epochBytes.addAndGet(n) > limits.epochBytes()) {
                    violate("it sent more than " + limits.epochBytes() / (1 << 20)
                            + " MiB for one request, more than the driver ever sends");
                    return;
                }
                int from = 0;
                for (int i = 0; i < n && violation == null; i++) {
                    if (chunk[i] != '\n') {
                        continue;
                    }
                    int part = i - from;
                    if (length + part > limits.maxLine()) {
                        violate("it sent a line longer than " + limits.maxLine() + " bytes");
                        return;
                    }
                    line = fit(line, length + part);
                    System.arraycopy(chunk, from, line, length, part);
                    deliver(line, length + part);
                    if (line.length > 16 * CHUNK) {
                        line = new byte[CHUNK]; // an idle kernel does not keep a big buffer
                    }
                    length = 0;
                    from = i + 1;
                }
                if (violation != null) {
                    return;
                }
                int rest = n - from;
                if (length + rest > limits.maxLine()) {
                    violate("it sent a line longer than " + limits.maxLine() + " bytes");
                    return;
                }
                line = fit(line, length + rest);
                System.arraycopy(chunk, from, line, length, rest);
                length += rest;
            }
        } catch (IOException e) {
            LOG.debugf("kernel channel %s closed: %s", name, e.getMessage());
        } finally {
            if (violation == null) {
                DriverMessage closed = new DriverMessage.Closed(Instant.now());
                end = closed;
                hand(closed);
            }
        }
    }

    /**
     * Gives up on the kernel: it broke the protocol. The reader stops at its next read, the
     * listener gets the violation once. Called by the reader, or by the protocol client when a
     * well-formed message makes no sense (a forged request id).
     */
    void violate(String reason) {
        synchronized (this) {
            if (violation != null) {
                return;
            }
            violation = reason;
        }
        LOG.warnf("kernel %s broke the driver protocol: %s", name, LogSafe.quote(reason));
        DriverMessage message = new DriverMessage.Violation(Instant.now(), reason);
        end = message;
        hand(message);
    }

    private void hand(DriverMessage message) {
        Consumer<DriverMessage> current = listener;
        if (current != null) {
            current.accept(message);
        }
    }

    private static byte[] fit(byte[] buffer, int size) {
        return size <= buffer.length ? buffer : Arrays.copyOf(buffer, Math.max(size, buffer.length * 2));
    }

    private void deliver(byte[] bytes, int length) {
        Instant at = Instant.now();
        DriverMessage message;
        try {
            message = parse(mapper.readTree(bytes, 0, length), at);
        } catch (IOException | IllegalArgumentException e) {
            message = null;
        }
        if (message == null) {
            drops.dropped("malformed");
            if (malformed.incrementAndGet() > MAX_MALFORMED) {
                violate("it sent more than " + MAX_MALFORMED + " malformed lines for one request");
            }
            return;
        }
        if (message instanceof DriverMessage.Unknown) {
            drops.dropped("unknown type");
            return;
        }
        hand(message);
    }

    /** The message, null when malformed. Every field is checked for the type it must have. */
    private static DriverMessage parse(JsonNode body, Instant at) {
        if (body == null || !body.isObject() || !body.path("type").isTextual()) {
            return null;
        }
        return switch (body.get("type").asText()) {
            case "ready" -> new DriverMessage.Ready(at, text(body, "python"), text(body, "ipython"));
            case "started" -> id(body) == null ? null : new DriverMessage.Started(at, id(body));
            case "done" -> id(body) == null ? null : new DriverMessage.Done(at, id(body));
            case "stream" -> stream(body, at);
            case "display_data" -> display(body, at);
            case "error" -> error(body, at);
            case "truncated" ->
                switch (body.path("what").asText()) {
                    case "stream" -> new DriverMessage.Truncated(at, Cut.STREAM);
                    case "display" -> new DriverMessage.Truncated(at, Cut.DISPLAY);
                    default -> null;
                };
            default -> new DriverMessage.Unknown(at, body.get("type").asText());
        };
    }

    private static String id(JsonNode body) {
        JsonNode id = body.get("id");
        return id != null && id.isTextual() ? id.asText() : null;
    }

    private static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        return value != null && value.isTextual() ? value.asText() : "";
    }

    private static DriverMessage stream(JsonNode body, Instant at) {
        JsonNode text = body.get("text");
        if (text == null || !text.isTextual()) {
            return null;
        }
        StreamName stream = switch (body.path("name").asText()) {
            case "stdout" -> StreamName.STDOUT;
            case "stderr" -> StreamName.STDERR;
            default -> null;
        };
        return stream == null ? null : new DriverMessage.Stream(at, stream, text.asText());
    }

    private static DriverMessage display(JsonNode body, Instant at) {
        JsonNode variants = body.get("variants");
        if (variants == null || !variants.isObject()) {
            return null;
        }
        long size = 0;
        for (JsonNode value : variants) {
            size += value.isTextual()
                    ? value.asText().length()
                    : value.toString().length();
        }
        JsonNode chart = body.get("chart");
        if (chart != null && !chart.isObject()) {
            chart = null;
        }
        if (chart != null) {
            size += chart.toString().length(); // it counts against the display cap like the rest
        }
        return new DriverMessage.Display(at, variants, size, body.path("main").asBoolean(false), chart);
    }

    private static DriverMessage error(JsonNode body, Instant at) {
        JsonNode traceback = body.path("traceback");
        if (!body.path("ename").isTextual() || !body.path("evalue").isTextual() || !traceback.isArray()) {
            return null;
        }
        List<String> lines = new ArrayList<>(traceback.size());
        for (JsonNode line : traceback) {
            if (!line.isTextual()) {
                return null;
            }
            lines.add(line.asText());
        }
        return new DriverMessage.Error(
                at, body.get("ename").asText(), body.get("evalue").asText(), lines);
    }
}
