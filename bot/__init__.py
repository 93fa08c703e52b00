"""The bot: settings, services (ask, ingest), rendering, chat adapters and the CLI."""
