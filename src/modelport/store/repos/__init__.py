"""Repositories: one per object, each bound to the session of one `Tx`."""
