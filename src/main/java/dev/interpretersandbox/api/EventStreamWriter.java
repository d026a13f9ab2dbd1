package dev.interpretersandbox.api;

import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.ext.Provider;
import java.io.OutputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Type;
import org.jboss.resteasy.reactive.server.core.ResteasyReactiveRequestContext;
import org.jboss.resteasy.reactive.server.spi.ResteasyReactiveResourceInfo;
import org.jboss.resteasy.reactive.server.spi.ServerHttpResponse;
import org.jboss.resteasy.reactive.server.spi.ServerMessageBodyWriter;
import org.jboss.resteasy.reactive.server.spi.ServerRequestContext;

/**
 * Writes an {@link EventStream} as a chunked body, a piece at a time: Quarkus REST's own
 * streaming ({@code RestMulti}) serialises and copies every piece through its writers again and
 * runs a Mutiny pipeline per response, which a trivial cell paid for on every call.
 */
@Provider
public final class EventStreamWriter implements ServerMessageBodyWriter<EventStream> {

    @Override
    public boolean isWriteable(
            Class<?> type, Type genericType, ResteasyReactiveResourceInfo target, MediaType mediaType) {
        return EventStream.class.equals(type);
    }

    @Override
    public boolean isWriteable(Class<?> type, Type genericType, Annotation[] annotations, MediaType mediaType) {
        return EventStream.class.equals(type);
    }

    @Override
    public void writeResponse(EventStream stream, Type genericType, ServerRequestContext context) {
        ResteasyReactiveRequestContext request = (ResteasyReactiveRequestContext) context;
        request.suspend();
        ServerHttpResponse response = context.serverResponse();
        response.setChunked(true);
        stream.deliver(new EventStream.Out() {
            @Override
            public void write(byte[] piece, Runnable written) {
                response.write(piece, failure -> written.run()); // a failed write: the close handler follows
            }

            @Override
            public void end(byte[] last) {
                if (last == null) {
                    response.end();
                } else {
                    response.end(last);
                }
                request.resume();
            }
        });
    }

    @Override
    public void writeTo(
            EventStream stream,
            Class<?> type,
            Type genericType,
            Annotation[] annotations,
            MediaType mediaType,
            MultivaluedMap<String, Object> httpHeaders,
            OutputStream entityStream) {
        throw new UnsupportedOperationException("an event stream is written asynchronously");
    }
}
