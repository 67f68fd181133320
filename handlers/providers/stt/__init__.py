"""STT providers: one module per vendor, listed in handlers.providers.registry."""
