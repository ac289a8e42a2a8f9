"""When did the source environment start running its candidate? The git commit that put it there.

The soak gate asks how long the source has held the candidate. Counting from the moment this Promotion
first saw it makes a restart with a fresh state directory, or a Promotion added later, wait the whole
soak again although dev has run the tag for days. The commit is a better clock: the line the candidate
was read from (``file:line``, `git blame --first-parent`, so a merge into the environment branch counts
from the merge, not from the commit on the branch it came from) or, when only the file is known (an Argo
CD Application's files), the file's last commit on the branch (at or after the tag was set: never early).

The workspace is a shallow clone: a line older than its history is blamed on the boundary commit, which
is younger than the real one — the soak then looks shorter than it is, never longer. The caller takes the
earlier of this time and its own first sighting, both of which are at or after the true moment. A
committer clock set wrong is trusted as written (git has no other time); a failing git command gives
None (the first sighting counts), never an error: soak is a gate, not a reason to fail a promotion.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tagpilot.gitops import GitClient, GitError, Redactor
from tagpilot.gitops.process import base_env, run_git


async def introduced_at(client: GitClient, root: Path, origin: str, *, timeout: float = 30.0) -> datetime | None:
    """The committer time of the commit that introduced what `origin` (``file:line`` or ``file``) holds."""
    file, _, line = origin.rpartition(":") if origin.rpartition(":")[2].isdigit() else (origin, "", "")
    if not file or file.startswith(("latestRef", "spec.", "status.")):
        return None
    if line:
        args = ["blame", "--first-parent", "--porcelain", "-L", f"{line},{line}", "--", file]
    else:
        args = ["log", "-1", "--first-parent", "--format=committer-time %ct", "--", file]
    try:
        result = await run_git(client.git, ["-C", str(root), *args], env=base_env(), timeout=timeout,
                               redact=Redactor([]), what=f"git {args[0]}")
    except GitError:
        return None
    for text in result.stdout.splitlines():
        if text.startswith("committer-time "):
            try:
                return datetime.fromtimestamp(int(text.split()[1]), UTC)
            except (ValueError, OverflowError, OSError):
                return None
    return None
