package dev.interpretersandbox.api;

import dev.interpretersandbox.kernel.Event;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Types the Vert.x routes serialise with Jackson themselves. Quarkus REST registers what its
 * resources return; these it cannot see, and a native image would otherwise write them as {}.
 */
@RegisterForReflection(
        targets = {
            Event.class,
            Event.Stream.class,
            Event.Display.class,
            Event.Error.class,
            Event.File.class,
            ErrorBody.class,
            ExecuteRoute.ExecuteResponse.class,
            ExecuteRoute.End.class,
            UploadRoute.Uploaded.class,
            dev.interpretersandbox.sandbox.ExecutionResult.Usage.class
        })
final class JsonTypes {
    private JsonTypes() {}
}
