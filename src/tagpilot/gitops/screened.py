"""Screened workspaces: only the files that can contain a marker are written to disk.

A checkout of a 10,000-file repository writes 10,000 files, and `git add --all` then hashes them all
again, to change the 200 that carry a setters marker: most of a reconcile. A screened workspace
never checks out. After the fetch, `git ls-tree` gives every path, `git grep --fixed-strings` on the
fetched commit names the blobs that contain the screen (the literal `"$imagepolicy"`), and
`git cat-file --batch` reads just those; the work tree then holds the candidate files, the symbolic
links (so `update.path` resolves as in a checkout) and the directories holding either, nothing else.
The updater is handed that tree with every directory of the commit (`Screened.tree()`), so an
`update.path` naming a directory without candidates is found as in a checkout; a file without the
literal is never rewritten, so what it sees is all it could change. The work tree is kept between
runs and only what differs is touched: a warm run rewrites the few files the last commit changed.
The listing (which paths are candidates, links, directories) is saved in `.git` too, and a warm run
derives the new commit's from it with `git diff-tree`, reading only the changed blobs, instead of
running `ls-tree` and `git grep` over every file again.

The commit is built from objects, not from the work tree: a file on disk that no longer holds the
bytes it was written with, or is new, is a change (read in Python, no hashing process); a candidate
that is gone is a deletion. One `git fast-import` writes the new blobs and trees as one pack on top
of the base commit, with the commit itself on the local branch: the identity as `commit-tree` would
write it (`git_ident`), the message verbatim. A signed commit (and an identity git would trim or
refuse) takes three processes instead: fast-import on a scratch ref, `commit-tree -S`
(which signs as `git commit` does, from the same `user.signingkey`/`gpg.format` configuration) for
that tree, `update-ref` for the branch. The result is the tree a checkout, edit and
`git commit -a` would make, byte for byte (no clean/smudge filters or end-of-line conversion are
applied, as the workspace never had any configured).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tagpilot.gitops.process import GitResult
from tagpilot.update.tree import KnownTree, read_bytes

Run = Callable[..., Awaitable[GitResult]]  # run(args, *, input=None, env=None, check=True)
REGULAR = ("100644", "100755")
SYMLINK = "120000"
TREE_REF = "refs/tagpilot/tree"  # fast-import's scratch commit; only its tree is used


@dataclass
class Screened:
    """What `materialize` wrote: every candidate's (mode, blob) by path, relative with `/`."""

    commit: str
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    links: set[str] = field(default_factory=set)
    # each candidate's bytes as written: a file that still holds them is unchanged without hashing it
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)
    link_targets: dict[str, bytes] = field(default_factory=dict, repr=False)

    dirs: frozenset[str] = field(default_factory=frozenset, repr=False)  # every directory of the commit

    def tree(self) -> KnownTree:
        """The work tree as `materialize` left it (files with their bytes, links) and the commit's
        directories, for an updater that would otherwise walk the disk to find them."""
        return KnownTree(self.contents, frozenset(self.links), self.dirs)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _remove(entry: os.DirEntry[str]) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path)
    else:
        os.unlink(entry.path)


def _walk(root: Path, descend: Callable[[str], bool]) -> Iterator[tuple[os.DirEntry[str], str]]:
    """Every entry under `root` with its path relative to it (`/`-separated), `.git` skipped; the
    entries of a directory (not a link to one) are listed when `descend(its path)`. The caller may
    remove the entry it was given (the listing of its directory is still open)."""
    stack = [(str(root), "")]  # (directory, its path relative to root with a trailing "/")
    while stack:
        directory, prefix = stack.pop()
        with os.scandir(directory) as listing:
            for entry in listing:
                if not prefix and entry.name == ".git":
                    continue
                rel = prefix + entry.name
                if not entry.is_symlink() and entry.is_dir() and descend(rel):
                    stack.append((entry.path, rel + "/"))
                yield entry, rel


def _holds(path: str, data: bytes) -> bool:
    """Whether the regular file at `path` holds exactly `data`."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(data) + 1) == data
    except OSError:
        return False


def _same_file(path: str, data: bytes, executable: bool) -> bool:
    """Whether the regular file at `path` holds exactly `data` with the execute bit as `executable`."""
    return _holds(path, data) and os.access(path, os.X_OK) == executable


def _sync_work_tree(root: Path, dirs: set[str], files: dict[str, tuple[bytes, bool]],
                    links: dict[str, bytes]) -> None:
    """Make the work tree under `root` (`.git` aside) hold exactly `dirs`, `files` (content, executable)
    and `links` (target), touching only what differs.

    The previous run left almost the same tree, and on a slow disk removing and recreating thousands
    of directories and rewriting unchanged files was most of a warm reconcile (rmdir/mkdir ~2 ms
    each here), so what is already right stays; anything else (a file the last run changed, a path
    that is no longer in the commit, a file where a directory belongs) is removed and written anew.
    """
    present: set[str] = set()
    for entry, rel in _walk(root, descend=dirs.__contains__):
        if entry.is_symlink():
            if rel in links and os.fsencode(os.readlink(entry.path)) == links[rel]:
                present.add(rel)
                continue
        elif entry.is_dir():
            if rel in dirs:
                present.add(rel)
                continue
        elif entry.is_file() and rel in files and _same_file(entry.path, *files[rel]):
            present.add(rel)
            continue
        _remove(entry)
    for d in sorted(dirs - present):  # parents sort before their children
        os.makedirs(root / d, exist_ok=True)
    for path, (data, executable) in files.items():
        if path not in present:
            target = root / path
            target.write_bytes(data)
            if executable:
                target.chmod(0o755)
    for path, target_bytes in links.items():
        if path not in present:
            os.symlink(os.fsdecode(target_bytes), root / path)


@dataclass
class Listing:
    """What a commit holds for a screen: the candidate files (mode, blob), the symbolic links (blob)
    and every directory, by path relative to the root with `/`. A pure function of the commit and
    the screen, so the last one is kept (`STATE_FILE`) and the next commit's is derived from it."""

    commit: str
    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)


STATE_FILE = "tagpilot-screened.json"  # in the workspace's .git: the last commit's `Listing`
_STATE_VERSION = 1
# Past this many changed files, reading each new blob to look for the screen costs more than
# letting `git grep` search the whole commit: the listing is made from scratch instead.
MAX_INCREMENTAL = 2000


async def _list_commit(run: Run, commit: str, screen: str) -> Listing:
    """The listing from scratch: `ls-tree` for every path, `git grep` for the files holding `screen`."""
    # the listing and the search are independent: run both git processes at once
    tree, grep = await asyncio.gather(
        run(["ls-tree", "-r", "-t", "-z", "--full-tree", commit]),
        run(["grep", "-l", "-z", "--text", "--fixed-strings", "--no-color", "-e", screen, commit], check=False))
    regular: dict[str, tuple[str, str]] = {}
    listing = Listing(commit)
    for record in tree.raw.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, sha = meta.decode().split(" ")
        path = _decode(raw_path)
        if kind == "tree":
            listing.dirs.add(path)
        elif mode in REGULAR:
            regular[path] = (mode, sha)
        elif mode == SYMLINK:
            listing.links[path] = sha
    if grep.returncode not in (0, 1):  # 1: no file contains it
        raise_grep(grep)
    prefix = f"{commit}:"
    for raw in grep.raw.split(b"\0"):
        path = _decode(raw).removeprefix(prefix)
        if raw and path in regular:
            listing.files[path] = regular[path]
    return listing


async def _list_after(run: Run, previous: Listing, commit: str, screen: str,
                      read: dict[str, bytes]) -> Listing | None:
    """`commit`'s listing from `previous` (another commit's) and the difference of their trees: the
    unchanged candidates stay, each changed or new regular file is read and kept if it holds
    `screen` (the blobs read are left in `read`, by id). None when that cannot be done (the old
    commit is gone, too many changes)."""
    if commit == previous.commit:
        return previous
    diff = await run(["diff-tree", "-r", "-t", "-z", "--no-renames", previous.commit, commit], check=False)
    if diff.returncode != 0:
        return None
    listing = Listing(commit, dict(previous.files), dict(previous.links), set(previous.dirs))
    changed: list[tuple[str, str, str]] = []  # (path, mode, blob) of regular files to look into
    fields = diff.raw.split(b"\0")
    for meta, raw_path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        old_mode, new_mode, _old, sha, _status = meta[1:].decode().split(" ")
        path = _decode(raw_path)
        # what the path was goes by its old mode (a file that became a directory is two records)
        if old_mode == "040000":
            listing.dirs.discard(path)
        elif old_mode == SYMLINK:
            listing.links.pop(path, None)
        else:
            listing.files.pop(path, None)
        if new_mode == "040000":
            listing.dirs.add(path)
        elif new_mode == SYMLINK:
            listing.links[path] = sha
        elif new_mode in REGULAR:
            changed.append((path, new_mode, sha))
    if len(changed) > MAX_INCREMENTAL:
        return None
    if changed:
        blobs = await run(["cat-file", "--batch"], input=("\n".join(sha for _p, _m, sha in changed) + "\n").encode())
        needle = screen.encode()
        for (path, mode, sha), data in zip(changed, _split_batch(blobs.raw, len(changed)), strict=True):
            if needle in data:
                listing.files[path] = (mode, sha)
                read[sha] = data
    return listing


def _load_listing(root: Path, screen: str) -> Listing | None:
    """The listing the last screening of this workspace saved, if it was for the same screen."""
    try:
        data = json.loads((root / ".git" / STATE_FILE).read_text(encoding="utf-8"))
        if data.get("version") != _STATE_VERSION or data.get("screen") != screen:
            return None
        return Listing(data["commit"], {p: (m, s) for p, (m, s) in data["files"].items()}, dict(data["links"]),
                       set(data["dirs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: list from scratch


def _save_listing(root: Path, screen: str, listing: Listing) -> None:
    data = {"version": _STATE_VERSION, "screen": screen, "commit": listing.commit, "files": listing.files,
            "links": listing.links, "dirs": sorted(listing.dirs)}
    target = root / ".git" / STATE_FILE
    tmp = target.with_name(STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8", errors="surrogateescape")
    os.replace(tmp, target)


async def materialize(run: Run, root: Path, commit: str, screen: str) -> Screened:
    """Make `root` hold the directories, symbolic links and files containing `screen` of `commit`.

    Which those are comes from the last screening's listing and `git diff-tree` when one was saved
    (a warm run: a few changed blobs read instead of `git grep` over every file of the commit),
    else from scratch; the work tree is then compared with it either way, so nothing on disk is
    trusted."""
    previous = _load_listing(root, screen)
    read: dict[str, bytes] = {}  # blob id -> content, of the blobs already read
    listing = await _list_after(run, previous, commit, screen, read) if previous is not None else None
    if listing is None:
        listing = await _list_commit(run, commit, screen)
    result = Screened(commit)
    wanted = sorted(listing.files)
    wanted_links = sorted(listing.links)
    result.links = set(wanted_links)
    shas = [listing.files[p][1] for p in wanted] + [listing.links[p] for p in wanted_links]
    missing = sorted({sha for sha in shas if sha not in read})  # after our own commit: usually none
    if missing:
        blobs = await run(["cat-file", "--batch"], input=("\n".join(missing) + "\n").encode())
        read.update(zip(missing, _split_batch(blobs.raw, len(missing)), strict=True))
    files: dict[str, tuple[bytes, bool]] = {}
    for path in wanted:
        files[path] = (read[listing.files[path][1]], listing.files[path][0] == "100755")
        result.files[path] = listing.files[path]
    links = {path: read[listing.links[path]] for path in wanted_links}
    result.contents = {path: data for path, (data, _x) in files.items()}
    result.link_targets = links
    result.dirs = frozenset(listing.dirs)
    _sync_work_tree(root, _holding(listing), files, links)
    if listing is not previous:  # the same commit as last time: the saved listing is already this one
        _save_listing(root, screen, listing)
    return result


def _holding(listing: Listing) -> set[str]:
    """The directories a file or link of `listing` is in, at any depth: the only ones made on disk. A
    10,000-file repository has ~2,000 directories, most without a candidate; every walk of the work
    tree (the sync, finding what changed) listed each of them."""
    holding: set[str] = set()
    for path in (*listing.files, *listing.links):
        folder = path.rpartition("/")[0]
        while folder and folder not in holding:
            holding.add(folder)
            folder = folder.rpartition("/")[0]
    return holding


def raise_grep(result: GitResult) -> None:
    from tagpilot.errors import GitError

    raise GitError(f"git grep failed: {result.stderr.strip() or result.returncode}")


def _split_batch(raw: bytes, count: int) -> list[bytes]:
    """The contents from `git cat-file --batch` output: `<sha> <type> <size>\\n<content>\\n` each."""
    out: list[bytes] = []
    pos = 0
    for _ in range(count):
        end = raw.index(b"\n", pos)
        header = raw[pos:end].split(b" ")
        if len(header) != 3:
            raise ValueError(f"git cat-file: unexpected answer {raw[pos:end]!r}")
        size = int(header[2])
        out.append(raw[end + 1:end + 1 + size])
        pos = end + 1 + size + 1
    return out


def _on_disk(root: Path) -> tuple[list[str], set[str]]:
    """Regular files (relative, `/`) and symbolic links under `root`, `.git` skipped."""
    files: list[str] = []
    links: set[str] = set()
    for entry, rel in _walk(root, descend=lambda _rel: True):
        if entry.is_symlink():
            links.add(rel)
        elif entry.is_file():
            files.append(rel)
    return sorted(files), links


Change = tuple[str, str | None, bytes]  # (path, mode or None for a deletion, content or link target)


def changed_files(root: Path, screened: Screened) -> list[Change]:
    """What differs on disk from what `materialize` wrote: (path, mode, bytes) for a changed or new
    file or link, (path, None, b"") for a candidate or link that is gone. Read in Python: a candidate
    still holding its bytes is unchanged, anything else is handed to `fast-import` as it is."""
    on_disk, links = _on_disk(root)
    changes: list[Change] = []
    base = str(root)
    for path in on_disk:
        full = f"{base}/{path}" if os.sep == "/" else str(root / path)
        mode = "100755" if os.access(full, os.X_OK) else "100644"
        data = read_bytes(full)  # each file read once: most were rewritten, and are handed on as they are
        if path in screened.contents and screened.files[path][0] == mode and data == screened.contents[path]:
            continue
        changes.append((path, mode, data))
    for path in sorted(links):
        target = os.fsencode(os.readlink(root / path))
        if path not in screened.links or screened.link_targets.get(path) != target:
            changes.append((path, SYMLINK, target))
    present = set(on_disk)
    changes.extend((path, None, b"") for path in screened.files if path not in present)
    changes.extend((path, None, b"") for path in sorted(screened.links - links))
    return changes


def _quote(path: str) -> bytes:
    """A path as fast-import reads it: verbatim unless it starts with `"` or holds a newline (C-quoted)."""
    raw = path.encode("utf-8", "surrogateescape")
    if not raw.startswith(b'"') and b"\n" not in raw:
        return raw
    out = bytearray(b'"')
    for byte in raw:
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def _crud(char: str) -> bool:
    """git's `crud()` (ident.c), what it trims from the ends of an identity's name and email; with
    ``.``, which git before 2.42 trims too."""
    return char <= " " or char in ".,:;<>\"\\'"


def git_ident(name: str, email: str) -> str | None:
    """``NAME <EMAIL>`` as `git commit-tree` writes it from GIT_*_NAME/EMAIL, for the identities it
    writes verbatim: no crud at either end, no ``<``, ``>`` or newline inside. None for any other
    (git trims or drops those characters, and which ones depends on its version; an empty name or one
    of crud alone it refuses): the caller lets `commit-tree` write it, or say why not."""
    for value in (name, email):
        if not value or _crud(value[0]) or _crud(value[-1]) or any(c in value for c in "<>\n"):
            return None
    return f"{name} <{email}>"


def import_stream(base: str, changes: Sequence[Change], *, commit: bytes | None = None) -> bytes:
    """A `git fast-import` stream: one commit on `base` that carries `changes`. `commit` is its header
    (``commit``, ``mark``, ``author``, ``committer``, ``data`` with the message); without it the commit
    goes to a scratch ref, for its tree only."""
    head = commit if commit is not None else f"commit {TREE_REF}\ncommitter tagpilot <tagpilot> now\ndata 0\n".encode()
    parts = [head, f"from {base}\n".encode()]
    for path, mode, data in changes:
        if mode is None:
            parts.append(b"D " + _quote(path) + b"\n")
        else:
            parts.append(b"M %s inline %s\ndata %d\n" % (mode.encode(), _quote(path), len(data)))
            parts.append(data)
            parts.append(b"\n")
    parts.append(b"\n")
    return b"".join(parts)


def _noncharacter(char: str) -> bool:
    """U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF: what git's `verify_utf8` takes for invalid UTF-8."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _verbatim(message: str, author: str, committer: str, env: Mapping[str, str]) -> bool:
    """Whether commit-tree would write `message` and the identities as they are: valid UTF-8 without
    noncharacters (it rewrites the whole commit as Latin-1 otherwise), no NUL in the message (it
    refuses one), and no `i18n.commitEncoding` (it adds an encoding header)."""
    texts = (message, author, committer)
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if "\0" in message or any(_noncharacter(c) for text in texts for c in text if c >= "\ufdd0"):
        return False
    return not any(value.lower() == "i18n.commitencoding" for key, value in env.items()
                   if key.startswith("GIT_CONFIG_KEY_"))


_FAST_IMPORT = ["fast-import", "--quiet", "--force", "--date-format=now"]


async def commit_tree(run: Run, root: Path, base: str, changes: Sequence[Change], message: str,
                      env: Mapping[str, str], *, ref: str, sign: bool = False) -> str:
    """Commit `base`'s tree with `changes` applied and `message` verbatim on `ref` (moved there whatever
    it held); the commit's id. Identity and dates as `git commit` gives them, from `env`'s
    GIT_AUTHOR_*/GIT_COMMITTER_*; signed with `-S` when `sign` (commit-tree ignores `commit.gpgsign`;
    the key and format come from `env`'s configuration).

    One `git fast-import` writes every new blob and tree as one pack (hash-object, read-tree,
    update-index and write-tree wrote ~400 loose objects in four processes: a third of a warm
    reconcile on the bench repository) and, unsigned, the commit and the branch too. No work tree or
    index is touched."""
    author = git_ident(env.get("GIT_AUTHOR_NAME", ""), env.get("GIT_AUTHOR_EMAIL", ""))
    committer = git_ident(env.get("GIT_COMMITTER_NAME", ""), env.get("GIT_COMMITTER_EMAIL", ""))
    if not sign and author is not None and committer is not None and _verbatim(message, author, committer, env):
        text = message.encode("utf-8")
        header = (f"commit {ref}\nmark :1\nauthor {author} now\ncommitter {committer} now\n"
                  f"data {len(text)}\n").encode() + text + b"\n"
        stream = import_stream(base, changes, commit=header) + b"get-mark :1\n"
        return (await run(_FAST_IMPORT, input=stream, env=env, what="git commit")).stdout.strip()
    await run(_FAST_IMPORT, input=import_stream(base, changes), env=env)
    args = ["commit-tree", *(["-S"] if sign else []), f"{TREE_REF}^{{tree}}", "-p", base]
    sha = (await run(args, env=env, input=message.encode("utf-8"), what="git commit")).stdout.strip()
    await run(["update-ref", ref, sha], env=env)
    return sha
