"""The Huawei ModelArts dialect: pure translation, no I/O (spec section C).

- `signer`: the AK/SK signature `SDK-HMAC-SHA256`, signing and verifying.
- `iam`: the IAM token API's login request and token body.
- `params`: list query parameters (v1 and MaaS) → `ListQuery`.
- `status`: Modelport status → the v1 and the MaaS enums.
- `listing`, `details`, `maas`: native services → the vendor's JSON shapes.
- `errors`: the vendor's `{"error_code", "error_msg"}` answers, from Modelport's errors.
- `times`: epoch milliseconds and IAM timestamps.

The HTTP doors that do the I/O are in `modelport.api.dialects.modelarts`.
"""
