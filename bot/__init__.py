"""The running bot: ring, engine, risk, executor, relay client, audit log, app, CLI."""
