package dev.interpretersandbox.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;

/** {@link CommandsIT} with kernels as plain child processes (sandbox.isolation=process). */
@QuarkusTest
@TestProfile(ProcessModeProfile.class)
class ProcessModeCommandsIT extends CommandsIT {

    @Override
    protected boolean ownRootFilesystem() {
        return false;
    }
}
