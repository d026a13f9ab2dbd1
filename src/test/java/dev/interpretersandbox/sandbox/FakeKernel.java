package dev.interpretersandbox.sandbox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.interpretersandbox.kernel.DriverClient;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A kernel for fast tests: a scripted driver on a thread of its own, behind the real channel and
 * protocol client over OS pipes. Code is a list of commands separated by ";":
 *
 * <pre>
 * print TEXT | err TEXT | display TEXT | raise NAME   output
 * sleep MS           waits; an interrupt ends it with KeyboardInterrupt
 * spin               waits until destroyed, ignoring interrupts
 * gate NAME          waits for the test to open gate NAME (no sleeps for ordering)
 * die                closes stdout: the kernel "dies"
 * forge-done         writes a done line with an id it was not given
 * flood KIB          writes that many KiB of stream lines
 * line BYTES         writes one line of that many bytes
 * junk N | unknown N writes N malformed lines, or N lines of an unknown type
 * </pre>
 */
final class FakeKernel implements KernelHandle {

    private static final ObjectMapper JSON = new ObjectMapper();

    final String name;
    final List<String> ran = new CopyOnWriteArrayList<>();
    final AtomicInteger interrupts = new AtomicInteger();
    final AtomicLong written = new AtomicLong();
    private final Map<String, CountDownLatch> gates;
    private final Semaphore interrupted = new Semaphore(0);
    private final CountDownLatch destroyedLatch = new CountDownLatch(1);
    private final OutputStream out;
    private final DriverClient driver;
    private final Thread thread;
    private volatile boolean dead;
    private volatile boolean destroyed;
    volatile boolean checkpointed;

    FakeKernel(
            String name,
            Map<String, CountDownLatch> gates,
            KernelChannel.Limits limits,
            KernelChannel.DropCounter drops,
            boolean sayReady)
            throws IOException {
        this.name = name;
        this.gates = gates;
        Pipe requests = Pipe.open();
        Pipe replies = Pipe.open();
        this.out = Channels.newOutputStream(replies.sink());
        KernelChannel channel = new KernelChannel(
                JSON,
                Channels.newInputStream(replies.source()),
                Channels.newOutputStream(requests.sink()),
                name,
                limits,
                drops);
        this.driver = new DriverClient(channel);
        BufferedReader in = new BufferedReader(
                new InputStreamReader(Channels.newInputStream(requests.source()), StandardCharsets.UTF_8));
        this.thread = new Thread(() -> serve(in, sayReady), "fake-driver-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    private void serve(BufferedReader in, boolean sayReady) {
        try {
            if (sayReady) {
                send(JSON.createObjectNode()
                        .put("type", "ready")
                        .put("python", "3")
                        .put("ipython", "8"));
            }
            String line;
            while ((line = in.readLine()) != null) {
                JsonNode request = JSON.readTree(line);
                String id = request.path("id").asText();
                switch (request.path("op").asText()) {
                    case "execute" -> {
                        send(JSON.createObjectNode().put("type", "started").put("id", id));
                        String code = request.path("code").asText();
                        ran.add(code);
                        if (!run(code)) {
                            return;
                        }
                        send(JSON.createObjectNode().put("type", "done").put("id", id));
                    }
                    default -> send(JSON.createObjectNode().put("type", "done").put("id", id));
                }
            }
        } catch (IOException | InterruptedException e) {
            // destroyed
        } finally {
            closeOut();
        }
    }

    /** Runs the commands; false when the kernel "died". */
    private boolean run(String code) throws IOException, InterruptedException {
        for (String command : code.split(";")) {
            String[] parts = command.strip().split(" ", 2);
            String arg = parts.length > 1 ? parts[1] : "";
            switch (parts[0]) {
                case "print" -> stream("stdout", arg);
                case "err" -> stream("stderr", arg);
                case "display" -> {
                    ObjectNode message = JSON.createObjectNode().put("type", "display_data");
                    message.putObject("variants").put("text/plain", arg);
                    send(message);
                }
                case "raise" -> error(arg);
                case "sleep" -> {
                    if (interrupted.tryAcquire(Long.parseLong(arg), TimeUnit.MILLISECONDS)) {
                        error("KeyboardInterrupt");
                        return true;
                    }
                }
                case "spin" -> {
                    destroyedLatch.await();
                    return false;
                }
                case "gate" ->
                    gates.computeIfAbsent(arg, k -> new CountDownLatch(1)).await();
                case "die" -> {
                    dead = true;
                    closeOut();
                    return false;
                }
                case "forge-done" ->
                    send(JSON.createObjectNode().put("type", "done").put("id", "0000"));
                case "flood" -> {
                    String text = "f".repeat(1023) + "\n";
                    for (int i = 0; i < Integer.parseInt(arg); i++) {
                        stream("stdout", text);
                    }
                }
                case "line" -> raw("x".repeat(Integer.parseInt(arg)));
                case "junk" -> {
                    for (int i = 0; i < Integer.parseInt(arg); i++) {
                        raw("{not json");
                    }
                }
                case "unknown" -> {
                    for (int i = 0; i < Integer.parseInt(arg); i++) {
                        raw("{\"type\": \"zzz\", \"data\": 1}");
                    }
                }
                default -> {
                    // anything else (Python the service itself sends, such as the pool's reseed) is a no-op
                }
            }
        }
        return true;
    }

    private void stream(String name, String text) throws IOException {
        send(JSON.createObjectNode().put("type", "stream").put("name", name).put("text", text));
    }

    private void error(String name) throws IOException {
        ObjectNode message =
                JSON.createObjectNode().put("type", "error").put("ename", name).put("evalue", "");
        message.putArray("traceback").add(name);
        send(message);
    }

    private void send(ObjectNode message) throws IOException {
        raw(JSON.writeValueAsString(message));
    }

    private synchronized void raw(String line) throws IOException {
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
        out.write(bytes);
        out.flush();
        written.addAndGet(bytes.length);
    }

    private void closeOut() {
        try {
            out.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public DriverClient driver() {
        return driver;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void interrupt() {
        interrupts.incrementAndGet();
        interrupted.release();
    }

    @Override
    public boolean alive() {
        return !dead && !destroyed && driver.channel().violation() == null;
    }

    @Override
    public String deathCause() {
        String violation = driver.channel().violation();
        return violation != null ? "the kernel broke the driver protocol: " + violation : "the fake kernel exited";
    }

    @Override
    public Optional<Long> peakMemory() {
        return Optional.empty();
    }

    @Override
    public boolean checkpoint(Path image) {
        try {
            Files.createDirectories(image);
            Files.writeString(image.resolve("image"), name);
        } catch (IOException e) {
            return false;
        }
        checkpointed = true;
        destroy();
        return true;
    }

    /** Kills the kernel from outside, as a crash would. */
    void crash() {
        dead = true;
        closeOut();
    }

    @Override
    public void destroy() {
        destroyed = true;
        destroyedLatch.countDown();
        closeOut();
        thread.interrupt();
    }

    boolean destroyed() {
        return destroyed;
    }
}
