"""`main.py` stays thin: importing it (every deployed function's cold start,
the `health` one included) loads no root, no adapter and no crypto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_main_builds_nothing() -> None:
    probe = (
        "import json, sys; import main; "
        "print(json.dumps([m for m in ('functions.bootstrap', 'cryptography', 'addon') "
        "if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []
