package dev.interpretersandbox.mcp;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.quarkiverse.mcp.server.AudioContent;
import io.quarkiverse.mcp.server.BlobResourceContents;
import io.quarkiverse.mcp.server.CompletionResponse;
import io.quarkiverse.mcp.server.Content;
import io.quarkiverse.mcp.server.EmbeddedResource;
import io.quarkiverse.mcp.server.Icon;
import io.quarkiverse.mcp.server.ImageContent;
import io.quarkiverse.mcp.server.Implementation;
import io.quarkiverse.mcp.server.PromptResponse;
import io.quarkiverse.mcp.server.ResourceLink;
import io.quarkiverse.mcp.server.ResourceResponse;
import io.quarkiverse.mcp.server.TextContent;
import io.quarkiverse.mcp.server.TextResourceContents;
import io.quarkiverse.mcp.server.ToolResponse;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;
import java.util.List;

/**
 * MCP's messages are camelCase (isError, mimeType), and the MCP extension writes its responses
 * with the application's ObjectMapper, whose names are snake_case for this service's own API. Its
 * response types keep their own names here (and MCP's "leave out what is null"); applied after
 * the extension's customizer, whose mix-ins these replace.
 */
@Singleton
class McpJson implements ObjectMapperCustomizer {

    private static final List<Class<?>> MCP_TYPES = List.of(
            ToolResponse.class,
            PromptResponse.class,
            ResourceResponse.class,
            CompletionResponse.class,
            TextResourceContents.class,
            BlobResourceContents.class,
            AudioContent.class,
            EmbeddedResource.class,
            ImageContent.class,
            ResourceLink.class,
            TextContent.class,
            Content.Annotations.class,
            Icon.class,
            Implementation.class);

    @Override
    public void customize(ObjectMapper mapper) {
        for (Class<?> type : MCP_TYPES) {
            mapper.addMixIn(type, CamelCase.class);
        }
    }

    @Override
    public int priority() {
        return MINIMUM_PRIORITY; // last: after the extension's own mix-ins
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonNaming(PropertyNamingStrategies.LowerCamelCaseStrategy.class)
    abstract static class CamelCase {}
}
