package dev.interpretersandbox.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SandboxStateTest {

    @Test
    void deletedIsFinalAndEveryOtherStateCanBeDeleted() {
        assertTrue(SandboxState.DELETED.next().isEmpty());
        for (SandboxState state : SandboxState.values()) {
            if (state != SandboxState.DELETED) {
                assertTrue(state.next().contains(SandboxState.DELETED), state.name());
            }
        }
    }

    @Test
    void onlyAStartedKernelRunsCodeAndOnlyAnIdleOneIsPaused() {
        assertEquals(Set.of(SandboxState.IDLE), states(SandboxState.BUSY));
        assertEquals(Set.of(SandboxState.IDLE), states(SandboxState.PAUSING));
        assertFalse(SandboxState.PAUSED.next().contains(SandboxState.IDLE), "a paused sandbox is restored first");
    }

    /** The states from which target can be reached. */
    private static Set<SandboxState> states(SandboxState target) {
        Set<SandboxState> from = EnumSet.noneOf(SandboxState.class);
        for (SandboxState state : SandboxState.values()) {
            if (state.next().contains(target)) {
                from.add(state);
            }
        }
        return from;
    }

    @Test
    void theWireKeepsItsNames() {
        assertEquals("busy", SandboxState.PAUSING.json());
        assertEquals("paused", SandboxState.PAUSED.json());
        assertEquals("stopped", SandboxState.STOPPED.json());
    }
}
