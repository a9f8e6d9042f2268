"""`make generate`: rewrite every generated file from the models, in the repository root.

All files are rendered before any is written, so a generator that fails leaves the tree as it was.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import child_types, crds, function_yaml, validators

ROOT = Path(__file__).resolve().parent.parent
VALIDATORS = "krmfn/api/generated/validators.py"
CHILD_TYPES = "krmfn/api/generated/child_types.py"


def rendered() -> dict[str, str]:
    """Path (from the repository root) → the text the generators give it."""
    return {
        VALIDATORS: validators.render(),
        CHILD_TYPES: child_types.render(),
        crds.PATH: crds.render(),
        function_yaml.PATH: function_yaml.render((ROOT / function_yaml.PATH).read_text()),
    }


def main() -> None:
    for path, text in rendered().items():
        target = ROOT / path
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
        sys.stderr.write(f"generated {path}\n")


if __name__ == "__main__":
    main()
