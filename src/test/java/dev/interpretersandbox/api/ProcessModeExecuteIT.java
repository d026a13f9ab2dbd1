package dev.interpretersandbox.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/** {@link ExecuteIT} with kernels as plain child processes (sandbox.isolation=process). */
@QuarkusTest
@TestProfile(ProcessModeProfile.class)
class ProcessModeExecuteIT extends ExecuteIT {}
