"""Plain helpers with no models: configuration parsing, versions, tokens, HTTP ranges."""
