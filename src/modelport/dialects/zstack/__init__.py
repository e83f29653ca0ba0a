"""The ZStack dialect: REST `QueryModelService` and login, as a pure translator (no I/O).

A ZStack "model service" is a Modelport runtime, with its refs (the caller's models of the
runtime's framework, which it serves).

- `grammar`: query parameters and the `q` condition syntax (spec B.3);
- `fields`: the `ModelServiceInventory` fields and their native sources (spec B.6);
- `translate`: query parameters → a native `ListQuery`;
- `inventory`: runtimes → inventories and the query reply (spec B.4);
- `refs`: the models each runtime serves → `modelServiceRefs`;
- `manifest`: a runtime's template as the `yaml` field;
- `times`: Gson's `MMM d, yyyy h:mm:ss a` time format;
- `session`: the `logInByAccount` body and the `SessionInventory` reply (spec B.2);
- `auth`: the `Authorization` header, OAuth sessions and AccessKey signatures (spec B.2);
- `errors`: plain-text REST-layer errors and `{"error": …}` API errors (spec B.5).

The HTTP handler that does the I/O is `modelport.api.dialects.zstack`; the wire contract as
built is docs/dialects/zstack.md.
"""
