package dev.interpretersandbox.sandbox;

import dev.interpretersandbox.error.SandboxException;

/**
 * Work that needs a sandbox to itself: an execution, or an operation such as a pause or a reset.
 * A sandbox runs one job at a time, in queue order, and a job tells its sandbox when it is over.
 */
abstract class Job {

    /** Runs the job (handing its work to the sandbox's threads); it ends with {@code Sandbox.finished}. */
    abstract void start();

    /** The job will never run: its sandbox was deleted while it waited. */
    abstract void abandon(SandboxException why);
}
