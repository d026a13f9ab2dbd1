package dev.interpretersandbox.api;

/** Every error the API returns: {@code {"error": "<message>"}}. */
public record ErrorBody(String error) {}
