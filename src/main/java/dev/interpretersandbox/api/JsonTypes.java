package dev.interpretersandbox.api;

import dev.interpretersandbox.sandbox.Event;
import dev.interpretersandbox.sandbox.ExecutionResult;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Types written with Jackson outside a resource method's return type (the execute stream's
 * pieces). Quarkus REST registers what its resources return; these it cannot see, and a native
 * image would otherwise write them as {}.
 */
@RegisterForReflection(
        targets = {
            Event.class,
            Event.Stream.class,
            Event.Display.class,
            Event.Error.class,
            Event.File.class,
            ErrorBody.class,
            EventStream.End.class,
            Transfers.Uploaded.class,
            ExecutionResult.Usage.class
        })
final class JsonTypes {
    private JsonTypes() {}
}
