package dev.interpretersandbox.api;

import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.MultivaluedMap;
import jakarta.ws.rs.ext.Provider;
import java.io.OutputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Type;
import org.jboss.resteasy.reactive.server.core.ResteasyReactiveRequestContext;
import org.jboss.resteasy.reactive.server.spi.ResteasyReactiveResourceInfo;
import org.jboss.resteasy.reactive.server.spi.ServerMessageBodyWriter;
import org.jboss.resteasy.reactive.server.spi.ServerRequestContext;

/**
 * Writes an {@link EventStream}, a piece at a time (chunked), or in one write with a
 * Content-Length when it is whole ({@link EventStream#whole()}): Quarkus REST's own
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
        // Vert.x's own response: its writes say when the bytes reached the socket, the end's too
        HttpServerResponse response = request.unwrap(HttpServerResponse.class);
        if (!stream.whole()) {
            response.setChunked(true);
        }
        stream.deliver(new EventStream.Out() {
            @Override
            public void write(byte[] piece, Runnable written) {
                // a failed write means the connection went: the route's end handler says so too
                response.write(buffer(piece), result -> written.run());
            }

            @Override
            public void end(byte[] last, Runnable written) {
                response.end(buffer(last), result -> written.run());
                request.resume();
            }

            @Override
            public void abort() {
                request.resume();
            }
        });
    }

    private static Buffer buffer(byte[] bytes) {
        return bytes == null ? Buffer.buffer() : Buffer.buffer(Unpooled.wrappedBuffer(bytes)); // no copy
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
