package dev.interpretersandbox.isolation;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Names of kernel containers: the sandbox's id and a number. The numbers start from the clock,
 * not from 1, so a service that starts after a crash never reuses a name whose container, cgroups
 * or processes the crashed one may have left behind (its startup sweep removes those, but a new
 * kernel must never be mistaken for one of them, by the sweep or by anyone looking).
 */
final class ContainerIds {

    private final AtomicLong sequence = new AtomicLong(System.currentTimeMillis() % 1_000_000_000L);

    String next(String sandboxId) {
        return sandboxId + "-" + sequence.incrementAndGet();
    }
}
