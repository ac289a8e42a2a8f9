"""Measure a benchmark's child process: wall time, its own peak RSS and its output.

Shared by the scripts in bench/ (their directory is first on sys.path when run as `python bench/X.py`).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[1] / "src"


@functools.cache
def compile_sources() -> None:
    """Write tagpilot's bytecode and dataclass methods (__pycache__) before anything is timed.

    An installed tagpilot runs from bytecode (pip compiles a wheel's modules when it installs them),
    but this checkout is an editable install, and where PYTHONDONTWRITEBYTECODE is set (this machine
    sets it) every tagpilot process compiled its ~40 modules from source again: ~40 ms of each
    `tagpilot scan`, a cost the baselines (httpx, git, grep: all compiled) never pay; likewise the
    methods of its dataclasses (`tagpilot.dataclass_code`, ~60 ms). `python -m tagpilot.precompile`
    writes both, as `make install` does. Stale files are harmless: Python checks each source's mtime
    and size against its bytecode, and a changed dataclass is compiled again. Once per benchmark
    process: the sources do not change while it runs."""
    done = subprocess.run([sys.executable, "-m", "tagpilot.precompile"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SOURCES)})
    if done.returncode != 0:
        print(f"warning: tagpilot.precompile failed: {done.stderr.strip()[-500:]}", file=sys.stderr)


def run_measured(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
                 ) -> tuple[float, float, str]:
    """Run `args`; (wall seconds, peak RSS in MiB of that process, stdout). The child is reaped with
    wait4, so the peak RSS is its own, not the maximum over every child this script ran. A failure
    ends the benchmark with the command and the end of its stderr."""
    compile_sources()
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
