package dev.interpretersandbox;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.belongToAnyOf;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaFieldAccess;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.EvaluationResult;
import dev.interpretersandbox.config.SandboxConfig;
import dev.interpretersandbox.isolation.IsolationBackend;
import dev.interpretersandbox.isolation.Sizes;
import dev.interpretersandbox.isolation.StateLayout;
import dev.interpretersandbox.kernel.KernelChannel;
import dev.interpretersandbox.sandbox.Sandbox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rules docs/architecture.md states for the package map, checked against the compiled
 * classes, so that the map and the code cannot drift apart: a new package must be placed in the
 * map, and an import that reaches up the map fails here rather than in a review.
 */
class ArchitectureTest {

    private static final String ROOT = "dev.interpretersandbox";
    private static final Path MAP = Path.of("docs/architecture.md");
    // A package's line in the map's code block: its name at the start, then a space.
    private static final Pattern ENTRY = Pattern.compile("^([a-z0-9]+)/\\s");

    static JavaClasses classes;
    static List<String> map;

    @BeforeAll
    static void load() throws IOException {
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(ROOT);
        map = packageMap(Files.readString(MAP));
    }

    /** Top-level package names in the order of the first code block after "## Package map". */
    static List<String> packageMap(String markdown) {
        String section = markdown.substring(markdown.indexOf("## Package map"));
        int open = section.indexOf("```");
        String block = section.substring(section.indexOf('\n', open) + 1, section.indexOf("```", open + 3));
        List<String> names = new ArrayList<>();
        for (String line : block.split("\n")) {
            Matcher entry = ENTRY.matcher(line);
            if (entry.find()) {
                names.add(entry.group(1));
            }
        }
        return names;
    }

    private static String pkg(String name) {
        return ROOT + "." + name + "..";
    }

    @Test
    void theMapListsEveryPackageOnce() {
        Set<String> actual = classes.stream()
                .map(JavaClass::getPackageName)
                .filter(name -> name.startsWith(ROOT + "."))
                .map(name -> name.substring(ROOT.length() + 1).split("\\.")[0])
                .collect(Collectors.toCollection(TreeSet::new));
        assertFalse(actual.isEmpty(), "no classes imported from " + ROOT);
        assertEquals(map.size(), Set.copyOf(map).size(), "a package is listed twice in " + MAP + ": " + map);
        assertEquals(actual, new TreeSet<>(map), "the packages in " + MAP + " against the code");
    }

    @Test
    void noPackageDependsOnOneAboveItInTheMap() {
        List<String> violations = new ArrayList<>();
        for (int i = 1; i < map.size(); i++) {
            String[] above =
                    map.subList(0, i).stream().map(ArchitectureTest::pkg).toArray(String[]::new);
            EvaluationResult result = noClasses()
                    .that()
                    .resideInAPackage(pkg(map.get(i)))
                    .should()
                    .dependOnClassesThat()
                    .resideInAnyPackage(above)
                    .because(map.get(i) + "/ sits below " + map.subList(0, i) + " in " + MAP)
                    .evaluate(classes);
            if (result.hasViolation()) {
                violations.add(result.getFailureReport().toString());
            }
        }
        assertEquals(List.of(), violations);
    }

    @Test
    void packagesAreFreeOfCycles() {
        slices().matching(ROOT + ".(*)..").should().beFreeOfCycles().check(classes);
    }

    @Test
    void onlyIsolationKnowsWhichBackendRuns() {
        DescribedPredicate<JavaClass> backendInternals = resideInAPackage(pkg("isolation"))
                .and(not(belongToAnyOf(IsolationBackend.class, StateLayout.class, Sizes.class)));
        noClasses()
                .that()
                .resideOutsideOfPackages(pkg("isolation"), pkg("config"))
                .should()
                .dependOnClassesThat(backendInternals)
                .orShould()
                .dependOnClassesThat()
                .belongToAnyOf(SandboxConfig.Isolation.class)
                .orShould()
                .callMethod(SandboxConfig.class, "isolation")
                .because("the rest of the service holds an IsolationBackend or a KernelLauncher and never asks"
                        + " which mode runs")
                .check(classes);
    }

    @Test
    void onlyKernelSpeaksToTheDriver() {
        // Outside kernel/, a KernelChannel is made (by isolation/, on a kernel's pipes) and asked
        // whether the driver broke the protocol; lines go through DriverClient's typed requests.
        DescribedPredicate<JavaAccess<?>> channelUse =
                DescribedPredicate.describe("a KernelChannel method other than violation()", access -> {
                    AccessTarget target = access.getTarget();
                    return target.getOwner().isEquivalentTo(KernelChannel.class)
                            && !target.getName().equals("violation")
                            && !target.getName().equals("<init>");
                });
        noClasses()
                .that()
                .resideOutsideOfPackage(pkg("kernel"))
                .should()
                .accessTargetWhere(channelUse)
                .check(classes);
        noClasses()
                .that()
                .resideOutsideOfPackages(pkg("kernel"), pkg("isolation"))
                .should()
                .dependOnClassesThat()
                .belongToAnyOf(KernelChannel.class)
                .check(classes);
    }

    @Test
    void theDomainKnowsNothingOfHttp() {
        // HTTP lives in api/ and the Vert.x routes ahead of it (auth/, cluster/, e2b/, mcp/); the
        // domain throws SandboxException with a kind, which api/ErrorMappers turns into a status.
        noClasses()
                .that()
                .resideInAnyPackage(
                        pkg("sandbox"),
                        pkg("registry"),
                        pkg("kernel"),
                        pkg("isolation"),
                        pkg("files"),
                        pkg("config"),
                        pkg("error"),
                        pkg("metrics"),
                        pkg("log"),
                        pkg("lifecycle"),
                        pkg("agentsandbox"))
                .should()
                .dependOnClassesThat()
                .resideInAnyPackage(
                        "jakarta.ws.rs..",
                        "org.jboss.resteasy.reactive..",
                        "io.quarkus.resteasy.reactive..",
                        "io.vertx.core.http..",
                        "io.vertx.ext.web..",
                        "io.vertx.mutiny.core.http..",
                        "io.vertx.mutiny.ext.web..",
                        "io.quarkus.vertx.http..",
                        "io.quarkus.vertx.web..",
                        "io.netty.handler.codec.http..")
                .check(classes);
    }

    @Test
    void onlyTransitionChangesASandboxsState() {
        DescribedPredicate<JavaFieldAccess> stateWrite = DescribedPredicate.describe(
                "a write of Sandbox.state outside its constructor and transition",
                access -> access.getTarget().getOwner().isEquivalentTo(Sandbox.class)
                        && access.getTarget().getName().equals("state")
                        && access.getAccessType() == JavaFieldAccess.AccessType.SET
                        && !(access.getOrigin().getOwner().isEquivalentTo(Sandbox.class)
                                && access.getOrigin().isConstructor())
                        && !(access.getOrigin().getOwner().isEquivalentTo(Sandbox.class)
                                && access.getOrigin().getName().equals("transition")));
        noClasses().should().accessFieldWhere(stateWrite).check(classes);
    }
}
