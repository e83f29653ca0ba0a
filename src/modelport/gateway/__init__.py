"""The data plane: `/services/{service_id}/{path}` → a ready replica, streamed both ways.

It reads an in-memory routing snapshot (`routing.py`), refreshed after every controller pass,
never the database on the hot path.
"""
