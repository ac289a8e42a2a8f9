"""Benchmark: copy a 200 MB image between two local registries, tagpilot vs skopeo; and a same-registry copy.

Two CNCF registries (Debian's docker-registry) on 127.0.0.1, storage on tmpfs; the source image (four
50 MB random layers) is seeded straight onto the source registry's disk. Each run copies into a fresh
repository, each command in its own process so wall time and peak memory (max RSS) are measured alike:
  tagpilot   `tagpilot copy SRC DST --insecure`            (streams GET → PUT, bounded memory)
  skopeo     `skopeo copy --all --preserve-digests ...`     (the baseline; its blob-info cache is
             pointed at an empty HOME so it cannot mount from an earlier run)
and, within the source registry, `tagpilot copy` (cross-repository mount: no data moves) vs skopeo.
Prints figures and ratios; never asserts on time. Usage: python bench/image_copy.py [--mb 200] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import run_measured  # noqa: E402
from tests.fixtures.pusher import (  # noqa: E402
    OCI_CONFIG,
    OCI_LAYER,
    OCI_MANIFEST,
    Blob,
    Image,
    _DiskWriter,
)
from tests.fixtures.registry import RegistryServer  # noqa: E402


def seed(root: Path, repo: str, total_mb: int, layers: int = 4) -> str:
    """A single-image manifest with `layers` random layers totalling `total_mb`, written on disk."""
    size = total_mb * (1 << 20) // layers
    blobs = [Blob(OCI_LAYER, os.urandom(size)) for _ in range(layers)]
    config = Blob(OCI_CONFIG, json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [b.digest for b in blobs]},
    }).encode())
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
        "layers": [b.descriptor() for b in blobs],
    }).encode()
    writer = _DiskWriter(root)
    digest = writer.image(repo, Image(manifest, OCI_MANIFEST, blobs=(config, *blobs)))
    writer.tag(repo, "1.0.0", digest)
    return digest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed-into", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_into:  # the child that seeds: the 200 MB of layers stay out of the parent's RSS
        print(seed(Path(args.seed_into), "bench/app", args.mb))
        return 0
    with tempfile.TemporaryDirectory(prefix="tagpilot-bench-copy-") as tmp:
        work = Path(tmp)
        source = RegistryServer(workdir=work / "source").start()
        env = dict(os.environ, DOCKER_CONFIG=str(work / "docker"))
        targets: list[RegistryServer] = []
        try:
            digest = subprocess.run([sys.executable, __file__, "--mb", str(args.mb), "--seed-into", str(source.root)],
                                    check=True, capture_output=True, text=True).stdout.strip()
            src = source.ref("bench/app", "1.0.0")
            print(f"seeded a {args.mb} MB image {digest[:19]}… (4 layers)")
            figures: dict[str, list[tuple[float, float]]] = {k: [] for k in (
                "startup", "tagpilot", "skopeo", "tagpilot-mount", "skopeo-same")}
            skopeo = ["skopeo", "copy", "-q", "--all", "--preserve-digests", "--src-tls-verify=false",
                      "--dest-tls-verify=false"]
            for run in range(args.runs):
                # a fresh target registry per run: skopeo's blob-info cache (shared, under /var/lib when
                # root) must not know the blobs are there already, or it mounts instead of copying
                target = RegistryServer(workdir=work / f"target-{run}").start()
                targets.append(target)
                secs, rss, _ = run_measured([sys.executable, "-m", "tagpilot", "version"], env=env)
                figures["startup"].append((secs, rss))
                secs, rss, out = run_measured([sys.executable, "-m", "tagpilot", "copy", src,
                                               target.ref("bench/tp"), "--insecure"], env=env)
                assert out.strip() == digest, out
                figures["tagpilot"].append((secs, rss))
                secs, rss, _ = run_measured([*skopeo, f"docker://{src}", f"docker://{target.ref('bench/sk', '1.0.0')}"],
                                            env=env)
                figures["skopeo"].append((secs, rss))
                secs, rss, out = run_measured([sys.executable, "-m", "tagpilot", "copy", src,
                                               source.ref(f"bench/mount-{run}"), "--insecure"], env=env)
                assert out.strip() == digest, out
                figures["tagpilot-mount"].append((secs, rss))
                same = source.ref(f"bench/sks-{run}", "1.0.0")
                secs, rss, _ = run_measured([*skopeo, f"docker://{src}", f"docker://{same}"], env=env)
                figures["skopeo-same"].append((secs, rss))
        finally:
            source.stop()
            for target in targets:
                target.stop()
    best = {k: (min(s for s, _ in v), max(r for _, r in v)) for k, v in figures.items()}
    print(f"\n{'copy':<38}{'best s':>9}{'median s':>10}{'MB/s':>8}{'peak RSS MiB':>14}")
    labels = {
        "startup": "tagpilot version (Python start-up)",
        "tagpilot": "tagpilot copy (two registries)",
        "skopeo": "skopeo copy --all --preserve-digests",
        "tagpilot-mount": "tagpilot copy (same registry, mount)",
        "skopeo-same": "skopeo copy (same registry)",
    }
    for key, label in labels.items():
        secs, rss = best[key]
        median = statistics.median(s for s, _ in figures[key])
        print(f"{label:<38}{secs:>9.2f}{median:>10.2f}{args.mb / secs:>8.0f}{rss:>14.0f}")
    print(f"\nratio two registries  tagpilot/skopeo: time {best['tagpilot'][0] / best['skopeo'][0]:.2f}x, "
          f"peak RSS {best['tagpilot'][1] / best['skopeo'][1]:.2f}x")
    print(f"ratio same registry   tagpilot/skopeo: time {best['tagpilot-mount'][0] / best['skopeo-same'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
