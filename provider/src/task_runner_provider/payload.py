"""How the spec and the context travel to the runner: gzip+base64, and the size
rules that keep them inside what an environment variable can hold.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

#: Env var names the runner reads (its README, "Using it from Airflow").
SPEC_ENV = "TASK_RUNNER_SPEC"
CONTEXT_ENV = "TASK_RUNNER_CONTEXT"
SECRETS_DIR_ENV = "TASK_RUNNER_SECRETS_DIR"
INCLUDE_ENV = "TASK_RUNNER_INCLUDE"
XCOM_PATH = "/airflow/xcom/return.json"

#: Linux caps one ``NAME=value`` env string at 128 KiB (MAX_ARG_STRLEN); a
#: payload over this many bytes does not go into an env var.
ENV_LIMIT = 100_000


def encode(document: Any) -> str:
    """JSON, gzipped (no timestamp, so equal inputs give equal payloads), base64."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return base64.b64encode(gzip.compress(text.encode("utf-8"), mtime=0)).decode("ascii")


def decode(payload: str) -> Any:
    """The inverse of :func:`encode` (tests and debugging)."""
    return json.loads(gzip.decompress(base64.b64decode(payload)).decode("utf-8"))


def fits_env(payload: str) -> bool:
    return len(payload) <= ENV_LIMIT
