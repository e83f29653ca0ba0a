"""The native control-plane REST API (FastAPI) under `/api/v1`."""
