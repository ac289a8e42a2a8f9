"""The `argocd-image-updater-config` ConfigMap: `registries.conf`, commit identity and template.

Read as upstream reads it (shared/reference/argocd-image-updater.md §4.8, §4.9, §6, §7):
- `registries.conf`: YAML with a `registries:` list; every field of upstream's entry (`name`,
  `prefix`, `api_url`, `credentials`, `credsexpire`, `defaultns`, `default`, `insecure`, `ca_file`,
  `ca_data`, `limit`, `ping`, `tagsortmode`). Two defaults is a load error with upstream's message;
  an unknown field in an entry is a load error naming it; an unknown `tagsortmode` warns (as upstream).
- `git.user` / `git.email` (applied only when both are set, as upstream), `git.commit-message-template`
  (a Go template, checked at load).
Keys upstream's Deployment reads that tagpilot does not use (log level, kube events, concurrency...)
and keys nobody knows are warnings naming the file and line (`load_warnings`), never silently dropped.
`git.commit-signing-key` is the absolute path of a private key file (`git.commit-signing-method`
`ssh`, or `openpgp` with an ASCII-armored secret key); a keyring key id is refused (tagpilot keeps no
keyring). `git.commit-sign-off` is a warning: Signed-off-by trailers are not added yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tagpilot.config.argo_cd import AnnotationError, PullSecret, parse_pull_secret

CONFIGMAP_NAME = "argocd-image-updater-config"
ENTRY_FIELDS = ("name", "prefix", "api_url", "credentials", "credsexpire", "defaultns", "default", "insecure",
                "ca_file", "ca_data", "limit", "ping", "tagsortmode")
TAG_SORT_MODES = ("latest-first", "latest-last", "none")
USED_KEYS = ("registries.conf", "git.user", "git.email", "git.commit-message-template", "git.commit-signing-key",
             "git.commit-signing-method")
WEBHOOK_KEYS = ("webhook.docker-secret", "webhook.ghcr-secret", "webhook.harbor-secret", "webhook.quay-secret",
                "webhook.acr-secret", "webhook.aliyun-acr-secret", "webhook.cloudevents-secret")
NOT_USED = {
    "interval": "set the tagpilot.dev/interval annotation on an ImageUpdater instead",
    "log.level": "use tagpilot's --log-level / TAGPILOT_DEBUG", "log.format": "tagpilot logs one line per event",
    "kube.events": "tagpilot records events in its own event log (`tagpilot events`)",
    "argocd.namespace": "Applications are read from the files given with -f",
    "watch.namespaces": "Applications are read from the files given with -f",
    "max_concurrent_apps": "tagpilot bounds registry and git concurrency itself",
    "max_concurrent_reconciles": "tagpilot bounds registry and git concurrency itself",
    "git.commit-sign-off": "Signed-off-by trailers are not added yet",
    "webhook.ratelimit-allowed": "tagpilot's webhook server has its own request limits",
}
DOCKER_HUB = "docker.io"
INFERRED_LIMIT = 20.0  # requests/second for a registry not in registries.conf (upstream's code)
DOCKER_HUB_LIMIT = 10.0  # the built-in Docker Hub entry


class UpdaterConfigError(ValueError):
    """A bad value in the ConfigMap; the message names the key (and entry)."""


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    prefix: str
    api_url: str = ""
    credentials: PullSecret | None = None
    credsexpire: float | None = None  # seconds; None = read once, kept until restart
    defaultns: str = ""
    default: bool = False
    insecure: bool = False
    ca_file: str = ""
    ca_data: str = ""
    limit: float | None = None  # requests per second; None = unlimited (a configured registry)
    ping: bool = False
    tagsortmode: str = "none"


@dataclass(frozen=True)
class UpdaterConfig:
    registries: tuple[RegistryEntry, ...] = ()
    git_user: str = ""
    git_email: str = ""
    commit_template: str = ""
    webhook_secrets: dict[str, str] = field(default_factory=dict)  # webhook type → secret value
    signing_key: str = ""  # git.commit-signing-key: a private key file (ssh, or an armored gpg key)
    signing_method: str = "openpgp"  # git.commit-signing-method
    warnings: tuple[tuple[str, str], ...] = ()  # (key, message)

    @property
    def author(self) -> tuple[str, str] | None:
        """`git.user`/`git.email` when both are set (upstream applies the identity only then)."""
        return (self.git_user, self.git_email) if self.git_user and self.git_email else None

    def signing(self) -> Any:
        """The SigningKey for `git.commit-signing-key`, read when a commit is made (None when unset)."""
        if not self.signing_key:
            return None
        from tagpilot.errors import SigningError
        from tagpilot.gitops.signing import SigningKey

        try:
            key = open(self.signing_key, "rb").read()  # noqa: SIM115 - small file, read once
        except OSError as exc:
            raise SigningError(f"argocd-image-updater-config git.commit-signing-key {self.signing_key}: "
                               f"{exc.strerror}") from None
        return SigningKey("ssh" if self.signing_method == "ssh" else "gpg", key)

    def default_registry(self) -> str:
        return next((r.prefix for r in self.registries if r.default), DOCKER_HUB)

    def entry_for(self, name: str) -> RegistryEntry | None:
        """The entry whose prefix is the longest match of `registry/path` (upstream's lookup)."""
        best: RegistryEntry | None = None
        for entry in self.registries:
            prefix = entry.prefix.rstrip("/")
            if (name == prefix or name.startswith(prefix + "/")) and (best is None or len(prefix) > len(best.prefix)):
                best = entry
        return best


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise UpdaterConfigError(f"{key}: {value!r} is not a boolean; write true or false")


def parse_registries(text: str, namespace: str) -> tuple[list[RegistryEntry], list[tuple[str, str]]]:
    from tagpilot.config.duration import DurationError, parse_flux_duration

    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise UpdaterConfigError(f"registries.conf is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or set(data) - {"registries"}:
        raise UpdaterConfigError("registries.conf must be a mapping with one key, registries: (a list of entries)")
    items = data.get("registries") or []
    if not isinstance(items, list):
        raise UpdaterConfigError("registries.conf: registries must be a list")
    entries: list[RegistryEntry] = []
    warnings: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        where = f"registries.conf registries[{index}]"
        if not isinstance(item, dict):
            raise UpdaterConfigError(f"{where}: an entry is a mapping (name, prefix, api_url...)")
        unknown = sorted(set(map(str, item)) - set(ENTRY_FIELDS))
        if unknown:
            hint = " (the rate limit field is `limit`)" if "ratelimit" in unknown else ""
            raise UpdaterConfigError(f"{where}: unknown field(s) {', '.join(unknown)}{hint}; known: "
                                     f"{', '.join(ENTRY_FIELDS)}")
        for required in ("name", "prefix"):
            if not isinstance(item.get(required), str) or not item[required].strip():
                raise UpdaterConfigError(f"{where}: {required} is required")
        values: dict[str, Any] = {"name": item["name"].strip(), "prefix": item["prefix"].strip()}
        for text_field in ("api_url", "defaultns", "ca_file", "ca_data"):
            if item.get(text_field) is not None:
                values[text_field] = str(item[text_field]).strip()
        if values.get("api_url"):
            if not values["api_url"].startswith(("http://", "https://")):
                raise UpdaterConfigError(f"{where}: api_url {values['api_url']!r} must be an http(s) URL")
            values["api_url"] = values["api_url"].rstrip("/")
        for flag in ("default", "insecure", "ping"):
            if item.get(flag) is not None:
                values[flag] = _bool(f"{where}.{flag}", item[flag])
        if item.get("credentials"):
            try:
                values["credentials"] = parse_pull_secret(f"{where}.credentials", str(item["credentials"]), namespace)
            except AnnotationError as exc:
                raise UpdaterConfigError(str(exc).removeprefix("annotation ")) from None
        if item.get("credsexpire") is not None:
            try:
                values["credsexpire"] = parse_flux_duration(str(item["credsexpire"]))
            except DurationError as exc:
                raise UpdaterConfigError(f"{where}.credsexpire: {exc}") from None
        if item.get("limit") is not None:
            limit = item["limit"]
            if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
                raise UpdaterConfigError(f"{where}.limit: {limit!r} must be a positive number of requests per second")
            values["limit"] = float(limit)
        mode = str(item.get("tagsortmode") or "none").strip()
        if mode not in TAG_SORT_MODES:
            warnings.append((f"{where}.tagsortmode", f"unknown tag sort mode {mode!r}; using none (as upstream); "
                                                     f"use {', '.join(TAG_SORT_MODES)}"))
            mode = "none"
        values["tagsortmode"] = mode
        if any(e.prefix == values["prefix"] for e in entries):
            raise UpdaterConfigError(f"{where}: prefix {values['prefix']!r} is listed twice; prefixes are unique")
        if values.get("default") and any(e.default for e in entries):
            raise UpdaterConfigError(f"cannot set registry {values['prefix']} as default - only one default "
                                     "registry allowed")
        entries.append(RegistryEntry(**values))
    return entries, warnings


def parse_updater_config(data: dict[str, str], namespace: str) -> UpdaterConfig:
    """The ConfigMap's data, typed; UpdaterConfigError for a value that cannot work."""
    registries, warnings = parse_registries(data.get("registries.conf", ""), namespace)
    template = data.get("git.commit-message-template", "")
    if template:
        from tagpilot.gotemplate import TemplateError, parse

        try:
            parse(template, name="git.commit-message-template", sprig=True)
        except TemplateError as exc:
            raise UpdaterConfigError(f"git.commit-message-template: {exc}") from None
    user, email = data.get("git.user", "").strip(), data.get("git.email", "").strip()
    if bool(user) != bool(email):
        warnings.append(("git.user" if user else "git.email", "git.user and git.email are applied only together "
                         "(as upstream); set both, or commits keep argocd-image-updater <noreply@argoproj.io>"))
    for key in sorted(data):
        if key in USED_KEYS or key in WEBHOOK_KEYS:
            continue
        if key in NOT_USED:
            warnings.append((key, f"read by upstream's Deployment, not used by tagpilot: {NOT_USED[key]}"))
        else:
            warnings.append((key, "not a key of argocd-image-updater-config; it is ignored (check the spelling)"))
    signing_key = data.get("git.commit-signing-key", "").strip()
    method = data.get("git.commit-signing-method", "").strip() or "openpgp"
    if method not in ("openpgp", "ssh"):
        raise UpdaterConfigError(f"git.commit-signing-method: {method!r} must be openpgp or ssh")
    if signing_key and not signing_key.startswith("/"):
        raise UpdaterConfigError("git.commit-signing-key: write the absolute path of the private key file (an ssh "
                                 "key, or an ASCII-armored OpenPGP secret key); a key id of a keyring is not "
                                 "supported: tagpilot keeps no gpg keyring")
    secrets = {key.removeprefix("webhook.").removesuffix("-secret"): data[key] for key in WEBHOOK_KEYS if data.get(key)}
    return UpdaterConfig(registries=tuple(registries), git_user=user, git_email=email, commit_template=template,
                         webhook_secrets=secrets, warnings=tuple(warnings), signing_key=signing_key,
                         signing_method=method)


def updater_config(config: Any) -> UpdaterConfig:
    """The configuration's `argocd-image-updater-config` (any namespace; the first one), or defaults."""
    from tagpilot.config.notifications import ConfigMap

    for cm in sorted(config.of_kind(ConfigMap), key=lambda c: c.namespace):
        if cm.name == CONFIGMAP_NAME:
            return parse_updater_config(cm.data, cm.namespace)
    return UpdaterConfig()


def has_updater_config(config: Any) -> bool:
    from tagpilot.config.notifications import ConfigMap

    return any(cm.name == CONFIGMAP_NAME for cm in config.of_kind(ConfigMap))
