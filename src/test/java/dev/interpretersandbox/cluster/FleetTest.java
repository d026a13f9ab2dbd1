package dev.interpretersandbox.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.http.HttpMethod;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Fleet naming and routing decisions: who owns an id, which names are instances, where they are. */
class FleetTest {

    private static final Optional<String> TEMPLATE = Optional.of("http://{instance}.interpreter-sandbox-peers:8080");

    private static Fleet statefulSet(String self) {
        return new Fleet(TEMPLATE, self, Optional.empty(), Optional.empty(), 64);
    }

    @Test
    void aStatefulSetsOrdinalsAreItsInstancesAndOrdinalZeroOwnsTheDefaultSandbox() {
        Fleet fleet = statefulSet("interpreter-sandbox-2");
        assertEquals("interpreter-sandbox-0", fleet.defaultInstance());
        assertEquals(".interpreter-sandbox-2", fleet.idSuffix());
        assertEquals(Optional.of("interpreter-sandbox-5"), fleet.ownerOf("sb-0123456789abcdef.interpreter-sandbox-5"));
        assertEquals(Optional.of("interpreter-sandbox-0"), fleet.ownerOf("default"));
        assertEquals(Optional.of("interpreter-sandbox-2"), fleet.ownerOf("sb-0123456789abcdef"), "no suffix: here");
        assertEquals(
                URI.create("http://interpreter-sandbox-5.interpreter-sandbox-peers:8080"),
                fleet.url("interpreter-sandbox-5"));
        assertEquals("interpreter-sandbox-0", fleet.others().get(0));
        assertFalse(fleet.others().contains("interpreter-sandbox-2"));
    }

    @Test
    void forgedOwnersAreNotInstancesAndAreNeverTurnedIntoAUrl() {
        Fleet fleet = statefulSet("interpreter-sandbox-0");
        for (String forged : List.of(
                "sb-1.evil", "sb-1.other-set-1", "sb-1.interpreter-sandbox-64", "sb-1.interpreter-sandbox-01")) {
            assertEquals(Optional.empty(), fleet.ownerOf(forged), forged);
        }
        assertThrows(IllegalArgumentException.class, () -> fleet.url("evil.example.com"));
        assertThrows(IllegalArgumentException.class, () -> fleet.url("evil"));
    }

    @Test
    void anExplicitPeerListIsTheWholeFleet() {
        Fleet fleet = new Fleet(
                Optional.of("http://127.0.0.1:{instance}"),
                "18081",
                Optional.of("18080"),
                Optional.of(List.of("18080", "18081", "18082")),
                64);
        assertEquals(List.of("18080", "18082"), fleet.others());
        assertTrue(fleet.isInstance("18082"));
        assertFalse(fleet.isInstance("18083"));
        assertEquals(URI.create("http://127.0.0.1:18082"), fleet.url("18082"));
    }

    @Test
    void settingsThatCouldSendRequestsAnywhereAreRefused() {
        assertThrows(
                IllegalArgumentException.class,
                () -> new Fleet(Optional.of("http://peer:8080"), "a-0", Optional.empty(), Optional.empty(), 64),
                "a template without {instance}");
        assertThrows(
                IllegalArgumentException.class,
                () -> new Fleet(TEMPLATE, "Not_A_Label", Optional.empty(), Optional.empty(), 64));
        assertThrows(
                IllegalArgumentException.class,
                () -> new Fleet(TEMPLATE, "a-0", Optional.empty(), Optional.of(List.of("a-1", "evil.com")), 64));
    }

    @Test
    void offTheFleetEverythingIsServedHere() {
        Fleet fleet = new Fleet(Optional.empty(), "host", Optional.empty(), Optional.empty(), 64);
        assertFalse(fleet.enabled());
        assertEquals("", fleet.idSuffix());
        assertEquals(Optional.of("host"), fleet.ownerOf("sb-1.elsewhere"));
    }

    @Test
    void routesGoToTheOwnerTheDefaultInstanceOrStayHere() {
        Fleet fleet = statefulSet("interpreter-sandbox-1");
        ClusterRoutes routes = new ClusterRoutes(fleet, null);
        assertEquals(Optional.of("interpreter-sandbox-0"), routes.owner("/execute", HttpMethod.POST, null));
        assertEquals(Optional.of("interpreter-sandbox-0"), routes.owner("/", HttpMethod.GET, null));
        assertEquals(
                Optional.of("interpreter-sandbox-0"),
                routes.owner("/files/upload/-/mnt/data/a", HttpMethod.POST, null));
        assertEquals(
                Optional.of("interpreter-sandbox-3"),
                routes.owner("/sandboxes/sb-1.interpreter-sandbox-3/execute", HttpMethod.POST, null));
        assertEquals(
                Optional.of("interpreter-sandbox-3"),
                routes.owner("/sandboxes/sb-1.interpreter-sandbox-3", HttpMethod.DELETE, null));
        assertEquals(Optional.empty(), routes.owner("/sandboxes", HttpMethod.POST, null), "placement starts here");
        assertEquals(
                Optional.empty(), routes.owner("/sandboxes", HttpMethod.GET, null), "the fleet's list is made here");
        assertEquals(
                Optional.of("interpreter-sandbox-4"),
                routes.owner("/sandboxes", HttpMethod.GET, "interpreter-sandbox-4"));
        assertEquals(Optional.empty(), routes.owner("/sandboxes", HttpMethod.GET, "evil"), "answered here: 404");
        assertEquals(Optional.empty(), routes.owner("/q/health/ready", HttpMethod.GET, null));
    }
}
