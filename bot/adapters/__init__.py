"""Chat adapters: translate a platform's payloads into service calls and render the replies."""
