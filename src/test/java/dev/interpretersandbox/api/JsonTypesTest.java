package dev.interpretersandbox.api;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.interpretersandbox.sandbox.Event;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Native-image readiness that can be checked without native-image: what the routes write is registered. */
class JsonTypesTest {

    @Test
    void everyTypeTheRoutesSerialiseIsRegisteredForReflection() {
        Set<Class<?>> registered = Set.of(
                JsonTypes.class.getAnnotation(RegisterForReflection.class).targets());
        assertTrue(registered.contains(Event.class));
        assertTrue(registered.containsAll(List.of(Event.class.getDeclaredClasses())), "every event data record");
        for (Class<?> route : List.of(EventStream.class, Transfers.class)) {
            for (Class<?> nested : route.getDeclaredClasses()) {
                if (nested.isRecord()) {
                    assertTrue(registered.contains(nested), nested.getName());
                }
            }
        }
        assertTrue(registered.contains(ErrorBody.class));
    }
}
