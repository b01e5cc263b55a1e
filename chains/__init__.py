"""Talking to nodes: config, JSON-RPC clients, feeds, registry, records, decoders."""
