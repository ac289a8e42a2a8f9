"""Measure a benchmark's child process: wall time, its own peak RSS and its output.

Shared by the scripts in bench/ (their directory is first on sys.path when run as `python bench/X.py`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path


def run_measured(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
                 ) -> tuple[float, float, str]:
    """Run `args`; (wall seconds, peak RSS in MiB of that process, stdout). The child is reaped with
    wait4, so the peak RSS is its own, not the maximum over every child this script ran. A failure
    ends the benchmark with the command and the end of its stderr."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(map(str, args[:3]))} failed ({proc.returncode}):\n"
                             f"{err_file.read().decode()[-3000:]}")
        return elapsed, usage.ru_maxrss / 1024, out_file.read().decode()
