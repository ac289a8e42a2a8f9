"""Benchmark: select from 100,000 tags with a semver range, a filter+numerical policy and an
alphabetical one. Prints seconds per policy (with and without --explain, best of 5); never fails on time.

The semver policy is also compared, in the same run, with the plain loop it replaced (a `Version`
for every tag, then the range check, the strictly greatest kept), the baseline of its goal: at most
100 ms for 100,000 tags (Flux's Go code, measured on this machine earlier: 165 ms).

Run: PYTHONPATH=src python bench/policy.py [N]
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

from tagpilot.policy import FluxPolicy, select_flux
from tagpilot.policy.semver import parse_flux_version

REPEAT = 5


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


def best_of(fn: Callable[[], object]) -> tuple[float, object]:
    """Best wall time of REPEAT calls, and the last result."""
    times, result = [], None
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def timed(label: str, tags: list[str], policy: FluxPolicy) -> float:
    """Print the policy's time with and without explain; return the time without."""
    plain = 0.0
    for explain in (False, True):
        elapsed, sel = best_of(lambda explain=explain: select_flux(tags, policy, explain=explain))
        print(f"{label:<28} explain={explain!s:<5} {elapsed:8.3f} s  -> {sel.tag}")  # type: ignore[attr-defined]
        if not explain:
            plain = elapsed
    return plain


def plain_semver_loop(tags: list[str], policy: FluxPolicy) -> str | None:
    """The semver selection as it was before the fast loop: parse every tag, check, keep the greatest."""
    check = policy.constraints.check  # type: ignore[union-attr]
    best = None
    for tag in tags:
        v = parse_flux_version(tag)
        if v is not None and check(v) and (best is None or v.key > best.key):
            best = v
    return None if best is None else best.original


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tags = make_tags(n)
    print(f"{n} tags")
    # the second range has no greatest major: every tag above the best so far is parsed and checked
    for range_ in (">=1.0.0 <5.0.0", ">=1.0.0"):
        semver = FluxPolicy.semver(range_)
        fast = timed(f"semver {range_}", tags, semver)
        base, winner = best_of(lambda semver=semver: plain_semver_loop(tags, semver))
        print(f"{'  baseline: the plain loop':<28} {'':<13} {base:8.3f} s  -> {winner}")
        print(f"  semver / plain loop: {fast / base:.2f}x; goal <= 0.100 s: {fast * 1000:.0f} ms")
    timed(
        "filter + numerical asc",
        tags,
        FluxPolicy.numerical("asc", pattern=r"^main-[a-f0-9]+-(?P<ts>\d+)$", extract="$ts"),
    )
    timed("alphabetical asc", tags, FluxPolicy.alphabetical("asc"))


if __name__ == "__main__":
    main()
