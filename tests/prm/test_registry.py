"""The scorer table: listing and describing scorers imports none of them; every row resolves."""

from __future__ import annotations

import subprocess
import sys

from surestep.prm.protocol import PROTOCOLS
from surestep.prm.scorers.registry import SCORERS


def test_listing_the_scorers_imports_no_scorer_module():
    code = (
        "import sys, json\n"
        "from surestep.prm.scorers.registry import SCORERS\n"
        "json.dumps([info.to_json() for info in SCORERS.values()])\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('surestep.prm.scorers.') or m == 'torch')\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "surestep.prm.scorers.base,surestep.prm.scorers.registry"


def test_every_row_names_its_class_and_describes_every_protocol():
    for name, info in SCORERS.items():
        cls = info.load()
        assert cls.name == name, info.target
        assert set(info.formats) == set(PROTOCOLS) and info.models
        assert info.extra in ("prm", "")
