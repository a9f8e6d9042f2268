"""`python -m krmfn_status`: the status reporter (main.py)."""

from .main import main

main()
