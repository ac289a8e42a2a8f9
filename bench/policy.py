"""Benchmark: select from 100,000 tags with a semver range, a filter+numerical policy and an
alphabetical one. Prints seconds per policy (with and without --explain); never fails on time.

Run: PYTHONPATH=src python bench/policy.py [N]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

# Python puts this script's directory first on sys.path, where bench/copy.py would shadow the standard
# library's `copy` (imported by dataclasses): drop it.
sys.path[:] = [p for p in sys.path if p not in ("", str(Path(__file__).resolve().parent))]

from tagpilot.policy import FluxPolicy, select_flux  # noqa: E402


def make_tags(n: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    tags = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            tags.append(f"v{rnd.randint(0, 9)}.{rnd.randint(0, 40)}.{rnd.randint(0, 200)}")
        elif kind == 1:
            tags.append(f"{rnd.randint(0, 9)}.{rnd.randint(0, 40)}.{rnd.randint(0, 9)}-rc.{rnd.randint(0, 9)}")
        elif kind == 2:
            tags.append(f"main-{rnd.getrandbits(28):07x}-{1_700_000_000 + i}")
        else:
            tags.append(f"sha-{rnd.getrandbits(40):010x}")
    return tags


def timed(label: str, tags: list[str], policy: FluxPolicy) -> None:
    for explain in (False, True):
        start = time.perf_counter()
        sel = select_flux(tags, policy, explain=explain)
        elapsed = time.perf_counter() - start
        print(f"{label:<28} explain={explain!s:<5} {elapsed:8.3f} s  -> {sel.tag}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tags = make_tags(n)
    print(f"{n} tags")
    timed("semver >=1.0.0 <5.0.0", tags, FluxPolicy.semver(">=1.0.0 <5.0.0"))
    timed(
        "filter + numerical asc",
        tags,
        FluxPolicy.numerical("asc", pattern=r"^main-[a-f0-9]+-(?P<ts>\d+)$", extract="$ts"),
    )
    timed("alphabetical asc", tags, FluxPolicy.alphabetical("asc"))


if __name__ == "__main__":
    main()
