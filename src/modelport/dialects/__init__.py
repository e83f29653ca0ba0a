"""The clouds' inference-service API dialects, as pure translators (no I/O).

Each sub-package parses its vendor's requests (parameters, query grammar) into native
queries and commands, verifies its vendor's signatures given a secret, and renders native
results and domain errors in its vendor's shapes. The HTTP handlers that do the I/O live in
`modelport.api.dialects`.
"""
