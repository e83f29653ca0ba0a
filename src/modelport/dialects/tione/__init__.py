"""The TI-ONE dialect (Tencent Cloud `tione` 2021-11-11): pure translation, no I/O.

A TI-ONE service group is a Modelport service; a TI-ONE service is one of its deployments; ids
are shown unchanged. The modules, by concept:

- `signature`: TC3-HMAC-SHA256 (parse `Authorization`, timestamp window, constant-time check);
- `protocol`: `X-TC-Version` and `X-TC-Action`;
- `params`: the request body (JSON, or flattened form/query) and typed reading of fields;
- `listing`: `DescribeModelServiceGroups` → `ListQuery` (Filters, TagFilters, order, page);
- `commands`: create/modify/weights/by-id parameters → plain intents;
- `status`: Modelport status ↔ TI-ONE `Status`;
- `render`: `ServiceGroup`, `Service`, `ServiceInfo`, call info;
- `envelope` and `errors`: the 200-always response envelope and the vendor's error codes.

The HTTP handler that does the I/O is `modelport.api.dialects.tione`; the reference is
`docs/dialects/tione.md`.
"""
