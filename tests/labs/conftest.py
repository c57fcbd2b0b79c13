"""Fixtures and flags for the labs tests.

Update the golden files with ``KAI_LABS_UPDATE_GOLDEN=1 pytest tests/labs -m cluster``
(traces are captured from the cluster, DOT files drawn from them).
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KAI_LABS_UPDATE_GOLDEN") == "1"
