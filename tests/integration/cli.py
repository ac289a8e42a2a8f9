"""Run the real `tagpilot` command line in a subprocess, as a user or a CI job would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_tagpilot(*args: str | Path, env: dict[str, str] | None = None, stdin: str | None = None,
                 cwd: Path | None = None, timeout: float = 120) -> Result:
    full_env = dict(os.environ)
    full_env.pop("TAGPILOT_STATE", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "tagpilot", *map(str, args)],
        capture_output=True, text=True, env=full_env, input=stdin, cwd=cwd, timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
