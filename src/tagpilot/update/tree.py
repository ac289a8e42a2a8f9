"""Apply setters markers to a directory tree: the file-walking edge around the pure `setters` core.

Which files, as Flux's ScreeningLocalReader: regular files under the update path whose name ends in
``.yaml``/``.yml`` or is ``Kustomization``, that contain the literal ``"$imagepolicy"`` (a byte search
before any parsing, so a tree of thousands of manifests costs little more than ``grep -rl``). ``.git``
is not entered; symbolic links are never followed (a link could lead outside the repository, and
writing through it would change a file we were not asked to touch). Files that do not parse or are
not UTF-8 are reported and left untouched; JSON files are never looked at.

Writes are atomic (a temporary file in the same directory, then ``os.replace``) and keep the mode, so
a crash leaves either the old or the new file, never half of one. They happen after the whole tree is
read, all together: every new content is written to its temporary file and made durable (fsync), and
only then does any file get replaced, so an error while reading or writing leaves the tree unchanged.
(One `syncfs` for all the files instead of an fsync per file was tried: faster on a tree whose files
are on disk, slower after a fresh clone, when it has to flush the whole checkout.) In tagpilot's own
git workspaces (`workspace=True`) files are overwritten in place: the commit is what lasts there.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tagpilot.errors import ConfigError, Location, UpdateError
from tagpilot.update.model import Change, ImageRef, Notice
from tagpilot.update.setters import MARKER_TOKEN, rewrite

if TYPE_CHECKING:
    from tagpilot.update.scanmemo import ScanMemo

_TOKEN = MARKER_TOKEN.encode()
_SUFFIXES = (".yaml", ".yml")
_NAMES = ("Kustomization",)
_FSYNC_WORKERS = 16


@dataclass(frozen=True)
class FileChange:
    """One rewritten file: its path relative to the root, its changes, its text before (None for a new
    file) and after. The unified diff is made when first asked for: most callers (the CLI's write path,
    the daemon) never show it, and on a large tree it costs as much as the rewrite."""

    path: str
    changes: tuple[Change, ...]
    old: str | None = field(repr=False, compare=False)
    new: str = field(repr=False, compare=False)

    @cached_property
    def diff(self) -> str:
        """`git diff`-style unified diff, ``/dev/null`` as the old side of a new file."""
        before = self.old.splitlines(keepends=True) if self.old is not None else []
        return "".join(difflib.unified_diff(before, self.new.splitlines(keepends=True),
                                            f"a/{self.path}" if self.old is not None else "/dev/null",
                                            f"b/{self.path}"))


@dataclass(frozen=True)
class Skipped:
    """A file (or a marker in it) that was not rewritten, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class TreeResult:
    """What `update_tree` did: changed files (written unless dry run), skipped files, notices."""

    files: tuple[FileChange, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    notices: tuple[Notice, ...] = ()
    dry_run: bool = False
    scanned: int = field(default=0)  # files whose name qualified and that were read
    unmatched: tuple[Notice, ...] = ()  # markers naming a policy that was not given (file relative to root)
    named: frozenset[tuple[str, str]] = frozenset()  # every (namespace, name) a marker under the path names

    @property
    def changes(self) -> list[Change]:
        """Every change of every file, in file order."""
        return [c for f in self.files for c in f.changes]


def safe_subpath(root: Path, path: str) -> Path:
    """`root/path`, refusing anything that could leave `root`: absolute paths, ``..``, symlink escapes.

    Flux joins ``spec.update.path`` to the checkout securely; here an escape is an error, not
    silently clamped, because it is always a configuration mistake (or an attack).
    """
    where = Location(field="spec.update.path")
    if "\0" in path:  # the configuration loader refuses it too; `update --path` arrives here directly
        raise ConfigError(f"update path {path!r} contains a NUL character", where)
    pure = PurePosixPath(path.replace("\\", "/")) if path else PurePosixPath(".")
    if pure.is_absolute():
        raise ConfigError(f"update path {path!r} must be relative to the repository root", where)
    if ".." in pure.parts:
        raise ConfigError(f"update path {path!r} must not contain '..'", where)
    base = root.resolve()
    target = (base / pure).resolve()
    if target != base and base not in target.parents:
        raise ConfigError(f"update path {path!r} leaves the repository (through a symbolic link)", where)
    return target


def _candidates(top: str) -> Iterator[tuple[str, bool, bool]]:
    """(path, is a symlink, is a regular file) of every file under `top` whose name qualifies: sorted,
    depth first, `.git` skipped, symbolic links not followed. Plain strings and scandir's cached
    types: on a 10,000-file tree, pathlib objects and stat calls cost more than reading the files."""
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git":
                    subdirs.append(entry.path)
            elif entry.name.endswith(_SUFFIXES) or entry.name in _NAMES:
                yield entry.path, entry.is_symlink(), entry.is_file(follow_symlinks=False)
        stack.extend(reversed(subdirs))


@dataclass(frozen=True)
class KnownTree:
    """A work tree its caller has just written and knows whole (a screened workspace after
    `materialize`), by path relative to its root with `/`: every file with its bytes, every symbolic
    link, and every directory of the commit (on disk only those holding a file or link are made)."""

    files: Mapping[str, bytes]
    links: frozenset[str] = frozenset()
    dirs: frozenset[str] = frozenset()


def _walk_order(rel: str) -> list[tuple[int, str]]:
    """Sort key giving `_candidates`' order: a directory's files by name, then its subdirectories by
    name, each with everything under it (a file sorts before any directory at the same level)."""
    *folders, name = rel.split("/")
    return [(1, folder) for folder in folders] + [(0, name)]


def _known_candidates(base: str, top: str, known: KnownTree) -> list[tuple[str, bool, bool]]:
    """What `_candidates(top)` yields, taken from `known` (the whole tree under `base`) instead of the
    disk: the same paths, flags and order, with no directory listed (a screened workspace of a
    10,000-file repository has ~2,000 directories, one `scandir` each)."""
    prefix = "" if top == base else _posix_rel(top, base) + "/"
    found = []
    for rel in (*known.files, *known.links):
        name = rel.rpartition("/")[2]
        if not rel.startswith(prefix) or ".git" in rel.split("/"):
            continue
        if name.endswith(_SUFFIXES) or name in _NAMES:
            found.append(rel)
    found.sort(key=_walk_order)
    sep = os.sep
    return [(os.path.join(base, *rel.split("/")) if sep != "/" else f"{base}/{rel}", rel in known.links,
             rel in known.files) for rel in found]


_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_O_OVERWRITE = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)  # no O_TRUNC: see below


def read_bytes(path: str) -> bytes:
    """The bytes of a file, with two system calls for a small one and no file object: on a
    10,000-file tree, `open(path, "rb").read()` spends more time building the buffered reader than
    reading (110 ms against 75 ms for the walk and the reads)."""
    fd = os.open(path, _O_READ)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _posix_rel(path: str, start: str) -> str:
    """`path` relative to `start`, with forward slashes. Paths from the walk begin with `start` (both
    resolved), so a prefix cut does; `os.path.relpath` (absolutising both) stays for anything else."""
    prefix = start + os.sep
    cut = path.startswith(prefix) and not start.endswith(os.sep)
    rel = path[len(prefix):] if cut else os.path.relpath(path, start)
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _write_in_place(files: list[tuple[str, bytes]]) -> None:
    """Overwrite each `(path, data)` where it is (mode kept): for a workspace (see `update_tree`).

    The new bytes are written over the old ones and the file is then cut to their length, instead of
    opening with O_TRUNC: ext4 takes a truncation to zero followed by a write for a file being replaced
    and starts writing its data to disk when it is closed (`auto_da_alloc`), which made the 200 writes
    of a warm reconcile cost 27 ms instead of 2 ms. A crash in between leaves a file the next run's
    sync does not trust anyway (it compares every byte), as one cut to zero would have been."""
    for target, data in files:
        fd = os.open(target, _O_OVERWRITE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)


def _write_all_atomic(files: list[tuple[str, bytes]]) -> None:
    """Replace each `(path, data)` atomically, keeping its permission bits; nothing is replaced until
    every new content is durable, and a failure before that removes the temporary files."""
    temps: list[tuple[str, str]] = []
    replaced = 0
    try:
        for target, data in files:
            mode = stat.S_IMODE(os.stat(target).st_mode)
            folder, name = os.path.split(target)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tagpilot", dir=folder)
            temps.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, mode)
        _fsync_all([tmp for tmp, _ in temps])
        for tmp, target in temps:
            os.replace(tmp, target)
            replaced += 1
    except BaseException:
        for tmp, _ in temps[replaced:]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def _fsync_one(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_all(paths: list[str]) -> None:
    """Make every file durable. Several at once: the filesystem's journal commits concurrent fsyncs
    together (ext4 groups them into one transaction), so 200 files cost a few flushes, not 200.
    Plain threads (concurrent.futures would add ~4 ms of imports to `tagpilot update`)."""
    if len(paths) <= 1:
        for path in paths:
            _fsync_one(path)
        return
    import threading

    pending = iter(paths)
    take = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        while not failures:
            with take:
                path = next(pending, None)
            if path is None:
                return
            try:
                _fsync_one(path)
            except BaseException as exc:  # re-raised below, in the caller's thread
                failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(min(_FSYNC_WORKERS, len(paths)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]


def update_tree(
    root: Path, path: str, policies: Mapping[tuple[str, str], ImageRef], *, dry_run: bool = False,
    workspace: bool = False, memo: ScanMemo | None = None, known: KnownTree | None = None,
) -> TreeResult:
    """Apply the markers under `root/path` for `policies`; write the changed files unless `dry_run`.

    `workspace=True` is for tagpilot's own git workspaces, where the commit is what lasts and the next
    run's checkout or screening puts back any file a crashed run left: files are overwritten in place,
    with no temporary file and no fsync (a third of a warm reconcile's update). A person's tree
    (`tagpilot update`) keeps the default: atomic replacement, nothing replaced until all is on disk.

    `memo` remembers what parsing each text found, across runs (`scanmemo`; the workspaces keep one).
    `known` is the whole tree under `root` when the caller has just written it (a screened workspace):
    the files are then taken from it, with no directory walked or file read, and `path` is looked up in
    it (a directory of the commit need not be on disk).

    `path` may also name one file (tutorials point Flux's `update.path` at a Helm values file).
    `Change.file` is relative to the update path (as the keys of Flux's ``FileChanges``; the file
    name when `path` is a file); `FileChange.path` and `Skipped.path` are relative to `root`.
    Raises `ConfigError` when `path` escapes `root`, `UpdateError` when it does not exist.
    """
    base = str(root.resolve())
    top = safe_subpath(root, path)
    if known is not None:  # what is there is what the caller knows (a directory may not be on disk)
        rel_top = "" if str(top) == base else _posix_rel(str(top), base)
        top_is_file, top_is_dir = rel_top in known.files, not rel_top or rel_top in known.dirs
    else:
        top_is_file, top_is_dir = top.is_file() and not top.is_symlink(), top.is_dir()
    if top_is_file:
        candidates: Iterable[tuple[str, bool, bool]] = [(str(top), False, True)]
        top = top.parent
    elif top_is_dir:
        candidates = _candidates(str(top)) if known is None else _known_candidates(base, str(top), known)
    else:
        raise UpdateError(f"update path {path!r} is neither a directory nor a file in the repository")
    files: list[FileChange] = []
    skipped: list[Skipped] = []
    notices: list[Notice] = []
    unmatched: list[Notice] = []
    named: set[tuple[str, str]] = set()
    scanned = 0
    writes: list[tuple[str, bytes]] = []
    for file, is_symlink, is_file in candidates:
        if is_symlink:
            skipped.append(Skipped(_posix_rel(file, base), "symbolic link not followed"))
            continue
        if not is_file:
            continue
        scanned += 1
        held = known.files.get(_posix_rel(file, base)) if known is not None else None
        data = held if held is not None else read_bytes(file)
        if _TOKEN not in data:
            continue
        rel = _posix_rel(file, base)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            skipped.append(Skipped(rel, f"not UTF-8 text (byte {e.start})"))
            continue
        try:
            result = rewrite(text, policies, filename=_posix_rel(file, str(top)), memo=memo)
        except UpdateError as e:
            skipped.append(Skipped(rel, str(e)))
            continue
        notices.extend(result.notices)
        unmatched.extend(Notice(rel, n.line, n.setter, n.reason) for n in result.unmatched)
        named.update(result.named)
        if not result.changes:
            continue
        if not dry_run:
            writes.append((file, result.text.encode("utf-8")))
        files.append(FileChange(rel, result.changes, text, result.text))
    (_write_in_place if workspace else _write_all_atomic)(writes)
    return TreeResult(tuple(files), tuple(skipped), tuple(notices), dry_run, scanned, tuple(unmatched),
                      frozenset(named))
