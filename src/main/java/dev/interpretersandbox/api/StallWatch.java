package dev.interpretersandbox.api;

import dev.interpretersandbox.sandbox.Workers;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Looks once a second for execute responses whose client stopped reading for longer than
 * sandbox.http.write-stall-timeout, and closes them. One periodic check for all of them: a timer
 * of its own per response would cost every execution a timer thread's wake-up.
 */
@ApplicationScoped
class StallWatch {

    private static final long PERIOD_MILLIS = 1000;

    private final Set<EventStream> streams = ConcurrentHashMap.newKeySet();
    private final Workers workers;

    StallWatch(Workers workers) {
        this.workers = workers;
    }

    void start(@Observes StartupEvent event) {
        workers.timers().scheduleWithFixedDelay(this::check, PERIOD_MILLIS, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
    }

    void add(EventStream stream) {
        streams.add(stream);
    }

    void remove(EventStream stream) {
        streams.remove(stream);
    }

    private void check() {
        long now = System.nanoTime();
        for (EventStream stream : streams) {
            stream.checkStall(now);
        }
    }
}
