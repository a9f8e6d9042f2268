"""`python -m krmfn_etcd`: the TLS etcd client (main.py)."""

from .main import main

main()
