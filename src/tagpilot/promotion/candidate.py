"""What a source environment runs, read back from its files (setters markers), not from memory.

An ImageUpdateAutomation (or a Promotion) writes ``# {"$imagepolicy": "NS:NAME[:tag|:name|:digest]"}``
markers; the values next to them are what that environment deploys. Kargo reads its Freight from
its own store; we read the repository, so a hand edit or a merge into the environment branch counts
too (the article's flow merges dev into test by hand). Markers that disagree (two files with two
tags) are an error naming both places: promoting either would be a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tagpilot.errors import InvalidReference, UpdateError
from tagpilot.registry.reference import split_as_written
from tagpilot.update.model import ImageRef
from tagpilot.update.setters import Site, scan
from tagpilot.update.tree import _candidates, _posix_rel, safe_subpath

_TOKEN = b'"$imagepolicy"'


@dataclass(frozen=True)
class Candidate:
    """The image a source runs, and where that was read (``file:line`` for each part)."""

    ref: ImageRef
    origins: dict[str, str] = field(default_factory=dict)  # part ('name', 'tag', 'digest') → "file:line"
    since: datetime | None = None  # when the source got it: the commit that introduced it (engine/promotion_soak.py)

    @property
    def origin(self) -> str:
        """Where the tag (else the digest) was read: the line whose history says since when it is there."""
        return self.origins.get("tag") or self.origins.get("digest") or ""


def _files(root: Path, path: str) -> list[str]:
    top = safe_subpath(root, path)
    if top.is_file() and not top.is_symlink():
        return [str(top)]
    if not top.is_dir():
        raise UpdateError(f"path {path!r} is neither a directory nor a file in the repository")
    return [f for f, is_link, is_file in _candidates(str(top)) if is_file and not is_link]


def read_candidate(root: Path, path: str, namespace: str, name: str) -> Candidate | None:
    """The image the markers of policy ``namespace:name`` under `root/path` name; None without markers.

    Raises `UpdateError` when markers disagree or a full-reference value is not a reference.
    """
    parts: dict[str, tuple[str, str]] = {}  # part → (value, "file:line")
    base = str(root.resolve())
    for file in _files(root, path):
        with open(file, "rb") as fh:
            data = fh.read()
        if _TOKEN not in data:
            continue
        rel = _posix_rel(file, base)
        try:
            text = data.decode("utf-8")
            sites = [s for s in scan(text, filename=rel) if isinstance(s, Site)]
        except (UnicodeDecodeError, UpdateError):
            continue  # the writer skips such files too (and reports them)
        for site in sites:
            marker = site.marker
            if (marker.namespace, marker.name) != (namespace, name):
                continue
            where = f"{rel}:{text.count(chr(10), 0, site.start) + 1}"
            values: dict[str, str | None]
            if marker.field == "":
                try:
                    ref_name, tag, digest = split_as_written(site.value)
                except InvalidReference as exc:
                    raise UpdateError(f"{where}: {site.value!r} is not an image reference ({exc})") from None
                values = {"name": ref_name, "tag": tag, "digest": digest}
            else:
                values = {marker.field: site.value}
            for part, value in values.items():
                if not value:
                    continue
                seen = parts.get(part)
                if seen is not None and seen[0] != value:
                    raise UpdateError(
                        f"the markers of {namespace}:{name} disagree on the {part}: {seen[1]} has {seen[0]!r}, "
                        f"{where} has {value!r}; make them agree before promoting"
                    )
                parts.setdefault(part, (value, where))
    if "tag" not in parts and "digest" not in parts:
        return None
    ref = ImageRef(name=parts.get("name", ("", ""))[0], tag=parts.get("tag", (None, ""))[0],
                   digest=parts.get("digest", (None, ""))[0])
    return Candidate(ref, {part: where for part, (_v, where) in parts.items()})
