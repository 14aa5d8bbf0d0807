"""The parity suite reuses the e2e harness (fresh AIRFLOW_HOME, Airflow CLI in subprocesses)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
