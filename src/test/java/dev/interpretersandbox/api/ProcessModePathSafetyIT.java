package dev.interpretersandbox.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/** {@link PathSafetyIT} with kernels as plain child processes (sandbox.isolation=process). */
@QuarkusTest
@TestProfile(ProcessModeProfile.class)
class ProcessModePathSafetyIT extends PathSafetyIT {}
