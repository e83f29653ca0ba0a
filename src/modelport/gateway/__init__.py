"""The data plane: its own HTTP/1.1 server (`plane.py`) relaying each call of
`/services/{service_id}/{path}` and of the OpenAI front to a ready replica, streamed back.

It reads an in-memory routing snapshot (`routing.py`), refreshed after every controller pass
or, in a separate `modelport gateway`, when the store's routing generation moves (`store.py`);
never the database on a call's path.
"""
