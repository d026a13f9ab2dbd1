package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.kernel.KernelHandle;
import dev.interpretersandbox.kernel.KernelLauncher;
import dev.interpretersandbox.kernel.KernelLimits;
import dev.interpretersandbox.kernel.KernelStartException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** Launches {@link FakeKernel}s; a test can make starts fail or hold them at a gate. */
final class FakeLauncher implements KernelLauncher {

    final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();
    final List<FakeKernel> kernels = new CopyOnWriteArrayList<>();
    final AtomicInteger launches = new AtomicInteger();
    final AtomicInteger restores = new AtomicInteger();
    private final KernelChannel.Limits limits;
    volatile boolean canCheckpoint = true;
    volatile String failStarts;
    /** When set, starts wait at this gate (a test opens it). */
    volatile String startGate;

    private final AtomicInteger sequence = new AtomicInteger();

    private final KernelChannel.DropCounter drops;

    FakeLauncher(KernelChannel.Limits limits, KernelChannel.DropCounter drops) {
        this.limits = limits;
        this.drops = drops;
    }

    @Override
    public KernelHandle launch(String sandboxId, Path workspace, KernelLimits kernelLimits) {
        launches.incrementAndGet();
        return start(sandboxId, true);
    }

    @Override
    public boolean canCheckpoint() {
        return canCheckpoint;
    }

    @Override
    public Optional<String> templateKey() {
        return canCheckpoint ? Optional.of("fake") : Optional.empty();
    }

    @Override
    public KernelHandle restore(String sandboxId, Path workspace, KernelLimits kernelLimits, Path image) {
        restores.incrementAndGet();
        return start(sandboxId, false);
    }

    private KernelHandle start(String sandboxId, boolean ready) {
        String gate = startGate;
        if (gate != null) {
            try {
                gates.computeIfAbsent(gate, k -> new CountDownLatch(1)).await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KernelStartException("interrupted");
            }
        }
        if (failStarts != null) {
            throw new KernelStartException(failStarts);
        }
        try {
            FakeKernel kernel =
                    new FakeKernel(sandboxId + "-" + sequence.incrementAndGet(), gates, limits, drops, ready);
            kernels.add(kernel);
            var answer = ready
                    ? kernel.driver().awaitReady(Duration.ofSeconds(5))
                    : kernel.driver().ping(Duration.ofSeconds(5));
            if (answer == null) {
                throw new KernelStartException("the fake kernel did not answer");
            }
            return kernel;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KernelStartException("interrupted");
        }
    }

    void open(String gate) {
        gates.computeIfAbsent(gate, k -> new CountDownLatch(1)).countDown();
    }

    FakeKernel last() {
        return kernels.get(kernels.size() - 1);
    }
}
