"""Platform-neutral services that every adapter calls: ask, ingest."""
