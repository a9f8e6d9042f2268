"""A small TLS etcd client for the render's own two etcd clients, run on the function's image.

With spec.topoTLS, etcd requires a client certificate, and the multigres image's bash `/dev/tcp`
path (krmfn/workloads/registration.py) cannot speak TLS. This package writes the topology records
(the registration Job) and waits for a cell's record (the gateways' `wait-for-cell`) through
etcd's v3 JSON gateway (`/v3/kv/put`, `/v3/kv/range`, `/health`, base64 keys and values) over
HTTPS with the client certificate, using only the standard library (ssl, http.client).

A separate package from `krmfn`: the render never loads it (tests/test_imports.py).
"""
