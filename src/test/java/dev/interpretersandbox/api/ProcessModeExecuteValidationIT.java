package dev.interpretersandbox.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/** {@link ExecuteValidationIT} with kernels as plain child processes (sandbox.isolation=process). */
@QuarkusTest
@TestProfile(ProcessModeProfile.class)
class ProcessModeExecuteValidationIT extends ExecuteValidationIT {}
