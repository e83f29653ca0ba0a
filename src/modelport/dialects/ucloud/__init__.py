"""The UCloud dialect: the Action API's `GetUMInferService`, as a pure translator (no I/O).

- `params`: query string + form/JSON body → one flat parameter mapping (spec A.1, A.2);
- `signature`: the SHA-1 request signature (spec A.3);
- `query`: `GetUMInferService` parameters → a native `ListQuery` (spec A.6);
- `render`: native services → `UMInferServiceData`, and the status mapping;
- `errors`: RetCodes and the error envelope (spec A.4, A.5).

The HTTP handler that does the I/O (credentials, the query, keys) is
`modelport.api.dialects.ucloud`; the wire contract as built is docs/dialects/ucloud.md.
"""
