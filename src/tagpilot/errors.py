"""The one exception hierarchy of tagpilot.

Every expected failure is a `TagpilotError`. The CLI maps the class to an exit code and prints
`str(error)` without a traceback, so messages must say what went wrong, where (object, file:line,
field) and, where it helps, what to do. Messages never carry secrets.

Status reasons (`reason`) follow Flux's condition reasons so that a failure can be written into an
object's `Ready` condition as it is.

The tree (exit code in brackets; `cli/main.py` maps it once for every command):

    TagpilotError [1] ─┬─ ConfigError [2] ── ConfigErrors [2]
                       ├─ InvalidReference
                       ├─ RegistryError ─┬─ AuthenticationError, NotFoundError, RegistryUnavailable,
                       │                 ├─ RegistryTLSError, InvalidResponse ── ResponseTooLarge
                       │                 └─ DeleteUnsupported
                       ├─ CredentialsError
                       ├─ PolicyError ── InvalidPolicy (and policy.SelectionFailed)
                       ├─ StoreError ── (store.lock.StateLocked [2])
                       ├─ UpdateError
                       ├─ GitError ── GitAuthError, GitTimeout, GitRefNotFound, GitPushRejected, SigningError
                       └─ (engine.reconciler.Stalled, cli.api_client.DaemonError, gotemplate's TemplateError)

Anything else reaching the CLI is a bug: exit 3, one line, no traceback unless TAGPILOT_DEBUG=1.
"""

from __future__ import annotations

from dataclasses import dataclass


class TagpilotError(Exception):
    """Base of every expected failure."""

    exit_code = 1
    reason = "ReconciliationFailed"


@dataclass(frozen=True)
class Location:
    """Where in the configuration something was found: file, 1-based line (and column, when a single
    character is the problem), object and field."""

    file: str | None = None
    line: int | None = None
    obj: str | None = None  # e.g. "ImageRepository/default/podinfo"
    field: str | None = None  # e.g. "spec.interval"
    column: int | None = None  # 1-based, in characters

    def __str__(self) -> str:
        parts = []
        if self.file:
            where = f"{self.file}:{self.line}" if self.line else self.file
            parts.append(f"{where}:{self.column}" if self.line and self.column else where)
        if self.obj:
            parts.append(self.obj)
        if self.field:
            parts.append(f"field {self.field}")
        return ": ".join(parts)


class ConfigError(TagpilotError):
    """Invalid configuration: the CLI exits 2. Carries where the problem is."""

    exit_code = 2
    reason = "InvalidConfiguration"

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location or Location()
        where = str(self.location)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigErrors(ConfigError):
    """Several configuration errors found in one load, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        TagpilotError.__init__(self, "\n".join(str(e) for e in errors))
        self.message = str(self)
        self.location = Location()


class InvalidReference(TagpilotError):
    """An image reference that Docker would reject."""

    reason = "ImageURLInvalid"


class RegistryError(TagpilotError):
    """A registry could not be read. `reason` is the Flux condition reason to report."""

    reason = "ReadOperationFailed"


class AuthenticationError(RegistryError):
    """The registry refused our credentials (401/403) or the token service failed."""

    reason = "AuthenticationFailed"


class NotFoundError(RegistryError):
    """The repository or manifest does not exist (404, e.g. NAME_UNKNOWN / MANIFEST_UNKNOWN)."""


class RegistryUnavailable(RegistryError):
    """Network failure, timeout, or 5xx/429 after every retry."""


class DeleteUnsupported(RegistryError):
    """The registry refuses manifest deletes (405 UNSUPPORTED: `storage.delete.enabled` is off, a
    pull-through cache, or a registry that deletes through its own API)."""

    reason = "DeleteUnsupported"


class RegistryTLSError(RegistryError):
    """A TLS failure that retrying cannot heal: certificate not verifiable, client certificate refused."""


class InvalidResponse(RegistryError):
    """The registry answered something that is not what the distribution API specifies."""


class ResponseTooLarge(InvalidResponse):
    """A response body exceeded the cap we allow (protects memory against hostile servers)."""


class CredentialsError(TagpilotError):
    """Credentials could not be read: a missing Secret, a broken config.json, a failing helper."""

    reason = "AuthenticationFailed"


class PolicyError(TagpilotError):
    """A policy could not select a tag (no candidates, no match, non-numeric values...)."""

    reason = "ReconciliationFailed"


class InvalidPolicy(PolicyError):
    """A policy whose spec can never work (bad regex, bad semver range): the object stalls."""

    reason = "InvalidPolicy"


class StoreError(TagpilotError):
    """The state database could not be opened or written."""


class UpdateError(TagpilotError):
    """A file could not be rewritten: it does not parse, or the rewrite could not be verified.

    Flux's condition reason for a failed update run is `UpdateFailed`.
    """

    reason = "UpdateFailed"


class GitError(TagpilotError):
    """A git operation failed (clone, fetch, commit, push). Flux's reason is `GitOperationFailed`."""

    reason = "GitOperationFailed"


class GitAuthError(GitError):
    """The remote refused our credentials, or asked for credentials we do not have."""

    reason = "AuthenticationFailed"


class GitTimeout(GitError):
    """A git command ran longer than the GitRepository's `spec.timeout`; it was killed."""


class GitRefNotFound(GitError):
    """The branch, tag, name, semver range or commit to check out does not exist on the remote."""


class GitPushRejected(GitError):
    """The remote rejected the push: the branch kept moving for every retry, or a hook refused it."""


class SigningError(GitError):
    """A commit could not be signed: the key does not import, is encrypted without a passphrase..."""
