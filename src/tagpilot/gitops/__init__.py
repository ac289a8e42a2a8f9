"""tagpilot.gitops: git workspaces, commits, signing and safe pushes, through the git command line.

`GitClient.prepare()` gives a locked, clean checkout; `GitClient.commit_and_push()` applies a change
through a callback, commits (signed if asked) and pushes, re-applying on a moved branch. Policy logic
lives elsewhere (engine/automation.py wires ImagePolicy results and update_tree into `apply`).
"""

from tagpilot.errors import GitAuthError, GitError, GitPushRejected, GitRefNotFound, GitTimeout, SigningError
from tagpilot.gitops.auth import GitAuth, Redactor, auth_from_secret
from tagpilot.gitops.client import GitClient, PushResult
from tagpilot.gitops.signing import SigningKey, signing_key_from_secret
from tagpilot.gitops.workspace import CheckoutRef, Workspace, workspace_key

__all__ = [
    "CheckoutRef",
    "GitAuth",
    "GitAuthError",
    "GitClient",
    "GitError",
    "GitPushRejected",
    "GitRefNotFound",
    "GitTimeout",
    "PushResult",
    "Redactor",
    "SigningError",
    "SigningKey",
    "Workspace",
    "auth_from_secret",
    "signing_key_from_secret",
    "workspace_key",
]
