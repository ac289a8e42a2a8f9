"""Argo CD `Application` (`argoproj.io/v1alpha1`) and Argo CD Image Updater's annotations on it.

The model keeps Argo's field names (camelCase in YAML). Fields tagpilot reads are typed (`source`/
`sources` with `repoURL`, `targetRevision`, `path`, `helm`, `kustomize`; `destination`; `project`);
the other fields of the CRD are accepted as written, so an Application exported with
`kubectl get -o yaml` loads as it is (its `status`, e.g. `status.summary.images`, is kept on the
object). Unknown fields are still errors.

`parse_image_updater(annotations)` turns the `argocd-image-updater.argoproj.io/*` annotations into
typed per-image settings (`ImageSettings`) and the write-back settings (`WriteBack`), with upstream's
rules (shared/reference/argocd-image-updater.md §1): per-image keys only for aliased images (an alias
with `/` is written with `_` in keys), app-wide defaults otherwise; old strategy names with a
deprecation warning; Go `ParseBool` for force-update; ignore-tags as comma-separated globs with empty
entries kept. Malformed values are load errors naming the annotation; unknown annotation names with
the prefix are warnings naming them (the reconciler reports them).

An Application without `metadata.namespace` is in `argocd`, the namespace Argo CD reads Applications
from (the tutorial creates them with `kubectl create -n argocd`), which is also the namespace for
which upstream writes `.argocd-source-<app>.yaml` without the `<namespace>_` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import Model, Object, ObjectMeta, PlainText

PREFIX = "argocd-image-updater.argoproj.io/"
CONTROLLER_NAMESPACE = "argocd"  # Argo CD's (and the image updater's) install namespace

# per-image keys (`<alias>.<key>`) and the app-wide defaults of some of them (`<key>`)
IMAGE_KEYS = ("update-strategy", "force-update", "allow-tags", "ignore-tags", "pull-secret", "platforms",
              "helm.image-name", "helm.image-tag", "helm.image-spec", "kustomize.image-name")
APP_DEFAULT_KEYS = ("update-strategy", "force-update", "allow-tags", "ignore-tags", "pull-secret")
APP_KEYS = ("image-list", "write-back-method", "write-back-target", "git-branch", "git-repository")
DEFAULT_HELM_IMAGE_NAME = "image.name"
DEFAULT_HELM_IMAGE_TAG = "image.tag"


# --- the Application -------------------------------------------------------------------------------


class HelmParameter(Model):
    name: str | None = None
    value: str | None = None
    force_string: bool | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _scalar(cls, value: Any) -> Any:
        # Kubernetes would refuse a non-string; a YAML author writing `value: 1.2` means the text
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, int | float) else value


class ApplicationSourceHelm(Model):
    parameters: list[HelmParameter] = Field(default_factory=list)
    value_files: list[str] = Field(default_factory=list)
    values: str | None = None
    values_object: Any = None
    file_parameters: list[Any] | None = None
    release_name: str | None = None
    pass_credentials: bool | None = None
    ignore_missing_value_files: bool | None = None
    skip_crds: bool | None = None
    skip_schema_validation: bool | None = None
    skip_tests: bool | None = None
    version: str | None = None
    kube_version: str | None = None
    api_versions: list[str] | None = None
    namespace: str | None = None


class ApplicationSourceKustomize(Model):
    images: list[str] = Field(default_factory=list)
    name_prefix: str | None = None
    name_suffix: str | None = None
    common_labels: dict[str, str] | None = None
    common_annotations: dict[str, str] | None = None
    common_annotations_envsubst: bool | None = None
    force_common_labels: bool | None = None
    force_common_annotations: bool | None = None
    label_without_selector: bool | None = None
    label_include_templates: bool | None = None
    version: str | None = None
    namespace: str | None = None
    replicas: list[Any] | None = None
    patches: list[Any] | None = None
    components: list[str] | None = None
    ignore_missing_components: bool | None = None
    kube_version: str | None = None
    api_versions: list[str] | None = None


class ApplicationSource(Model):
    repo_url: PlainText = Field(alias="repoURL", min_length=1)
    path: PlainText | None = None
    target_revision: PlainText | None = None
    chart: str | None = None
    ref: str | None = None
    name: str | None = None
    helm: ApplicationSourceHelm | None = None
    kustomize: ApplicationSourceKustomize | None = None
    directory: Any = None
    plugin: Any = None


class ApplicationDestination(Model):
    server: str | None = None
    namespace: str | None = None
    name: str | None = None


class ApplicationSpec(Model):
    project: str = "default"
    destination: ApplicationDestination = Field(default_factory=ApplicationDestination)
    source: ApplicationSource | None = None
    sources: list[ApplicationSource] | None = None
    sync_policy: Any = None
    ignore_differences: list[Any] | None = None
    info: list[Any] | None = None
    revision_history_limit: int | None = None
    source_hydrator: Any = None

    @model_validator(mode="after")
    def _one_source(self) -> ApplicationSpec:
        if self.source is None and not self.sources:
            raise ValueError("spec.source or spec.sources is required (the repository Argo CD deploys from)")
        return self

    def all_sources(self) -> list[ApplicationSource]:
        """`spec.sources` when set (Argo CD ignores `source` then), else `[spec.source]`."""
        return list(self.sources) if self.sources else [self.source]  # type: ignore[list-item]


class ApplicationMeta(ObjectMeta):
    namespace: str = Field(default=CONTROLLER_NAMESPACE, min_length=1, max_length=63,
                           pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Application(Object):
    api_version: Literal["argoproj.io/v1alpha1"]
    kind: Literal["Application"]
    metadata: ApplicationMeta
    spec: ApplicationSpec
    operation: Any = Field(default=None, exclude=True)

    @field_validator("metadata")
    @classmethod
    def _annotations(cls, metadata: ApplicationMeta) -> ApplicationMeta:
        try:
            parse_image_updater(metadata.annotations, metadata.namespace)
        except AnnotationError as exc:
            raise ValueError(str(exc)) from None
        return metadata

    @property
    def image_updater(self) -> ImageUpdaterSettings:
        """The parsed annotations (validated at load, so this cannot fail)."""
        cached = self.__dict__.get("_image_updater")
        if cached is None:
            cached = parse_image_updater(self.metadata.annotations, self.metadata.namespace)
            object.__setattr__(self, "_image_updater", cached)
        return cached

    def with_image_updater(self, settings: ImageUpdaterSettings) -> Application:
        """A copy of this Application that reads `settings` instead of its annotations (an
        `ImageUpdater` CR's settings for it), so the one Application write path serves both forms."""
        copy = self.model_copy()
        object.__setattr__(copy, "_image_updater", settings)
        return copy

    def with_live_images(self, images: list[str]) -> Application:
        """A copy whose `status.summary.images` is what Argo CD reports running (an ArgoCDServer's poll)."""
        status = dict(self.status) if isinstance(self.status, dict) else {}
        summary = dict(status.get("summary")) if isinstance(status.get("summary"), dict) else {}
        return self.model_copy(update={"status": {**status, "summary": {**summary, "images": list(images)}}})

    def status_images(self) -> list[str] | None:
        """`status.summary.images` of an exported Application (what Argo sees running), or None."""
        status = self.status if isinstance(self.status, dict) else {}
        summary = status.get("summary") if isinstance(status.get("summary"), dict) else {}
        images = summary.get("images")
        if not isinstance(images, list):
            return None
        return [str(i) for i in images if isinstance(i, str)]


# --- the annotations ---------------------------------------------------------------------------------


class AnnotationError(ValueError):
    """A malformed image updater annotation; the message names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"annotation {key}: {message}")


@dataclass(frozen=True)
class PullSecret:
    """A `pull-secret` value: `pullsecret:<ns>/<name>`, `secret:<ns>/<name>#<field>`, `env:<VAR>`,
    `ext:/abs/path`."""

    kind: Literal["pullsecret", "secret", "env", "ext"]
    namespace: str = ""
    name: str = ""  # Secret name, environment variable or script path
    field: str = ""  # `secret:` only
    annotation: str = ""  # where it was written

    def describe(self) -> str:
        if self.kind == "pullsecret":
            return f"pullsecret:{self.namespace}/{self.name}"
        if self.kind == "secret":
            return f"secret:{self.namespace}/{self.name}#{self.field}"
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class ImageSettings:
    """One image of `image-list` with its resolved settings (per-alias key, else app-wide, else default)."""

    alias: str  # "" for an image without alias
    image: str  # the image name as written, without the constraint
    constraint: str  # the tag part: semver constraint, or the tag the digest strategy follows
    strategy: str  # as written ("semver" when unset)
    strategy_annotation: str | None
    allow_tags: str = ""
    ignore_tags: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    force_update: bool = False
    pull_secret: PullSecret | None = None
    helm_image_name: str | None = None
    helm_image_tag: str | None = None
    helm_image_spec: str | None = None
    kustomize_image_name: str | None = None

    @property
    def label(self) -> str:
        return self.alias or self.image

    def policy(self):  # -> Policy (imported lazily: the config package stays light)
        from tagpilot.policy.factory import from_argo

        return from_argo(self.strategy, constraint=self.constraint, allow_tags=self.allow_tags,
                         ignore_tags=self.ignore_tags, platforms=self.platforms)

    @property
    def uses_helm(self) -> bool:
        return bool(self.helm_image_name or self.helm_image_tag or self.helm_image_spec)

    def helm_names(self) -> tuple[str | None, str | None, str | None]:
        """(name parameter, tag parameter, spec parameter) with upstream's defaults."""
        if self.helm_image_spec:
            return None, None, self.helm_image_spec
        return (self.helm_image_name or DEFAULT_HELM_IMAGE_NAME, self.helm_image_tag or DEFAULT_HELM_IMAGE_TAG, None)


@dataclass(frozen=True)
class WriteBack:
    """`write-back-method`, `write-back-target`, `git-branch`, `git-repository`."""

    method: Literal["argocd", "git"] = "argocd"
    credentials: Literal["repocreds", "secret"] = "repocreds"
    secret_namespace: str = ""
    secret_name: str = ""
    target: Literal["default", "kustomization", "helmvalues"] = "default"
    target_path: str = ""  # `kustomization:<dir>` / `helmvalues:<file>`
    base_branch: str = ""  # checkout branch ("" = the source's targetRevision)
    push_branch: str = ""  # "" = the checkout branch; may be a Go template
    repository: str = ""  # `git-repository`
    pull_request: PullRequestMode | None = None  # an ImageUpdater's `gitConfig.pullRequest`


@dataclass(frozen=True)
class PullRequestMode:
    """Open a pull/merge request from the pushed head branch into the base branch (engine/argo_pull_request.py)."""

    forge: Literal["github", "gitlab"]
    labels: tuple[str, ...] = ()
    api: str = ""  # the forge API's base URL; "" = derived from the repository URL


@dataclass(frozen=True)
class Warning_:
    annotation: str
    message: str


@dataclass(frozen=True)
class ImageUpdaterSettings:
    images: tuple[ImageSettings, ...] = ()
    write_back: WriteBack = field(default_factory=WriteBack)
    warnings: tuple[Warning_, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.images)


def _parse_bool(key: str, value: str) -> bool:
    """Go's strconv.ParseBool."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise AnnotationError(key, f"{value!r} is not a boolean; use \"true\" or \"false\"")


def _split_constraint(text: str) -> tuple[str, str]:
    """`name[:constraint]`: the constraint is after the last `:` that follows the last `/`."""
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1:]
    return text, ""


def parse_image_list(value: str, key: str = PREFIX + "image-list") -> list[tuple[str, str, str]]:
    """`[<alias>=]<image>[:<constraint>][, ...]` → (alias, image, constraint) per entry."""
    from tagpilot.errors import InvalidReference
    from tagpilot.registry.reference import parse_repository

    out: list[tuple[str, str, str]] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        alias, sep, image = item.partition("=")
        if not sep:
            alias, image = "", item
        alias, image = alias.strip(), image.strip()
        if sep and not image:
            raise AnnotationError(key, f"entry {item!r}: empty image name after '='")
        if sep and not alias:
            raise AnnotationError(key, f"entry {item!r}: empty alias before '='")
        name, constraint = _split_constraint(image)
        name = name.split("@", 1)[0]
        try:
            parse_repository(name)
        except InvalidReference as exc:
            raise AnnotationError(key, f"entry {item!r}: {exc}") from None
        if any(a == alias for a, _, _ in out if alias):
            raise AnnotationError(key, f"alias {alias!r} is used twice; give each image its own alias")
        out.append((alias, name, constraint))
    if not out:
        raise AnnotationError(key, "no image in the list; write [<alias>=]<image>[:<constraint>], ...")
    return out


def parse_pull_secret(key: str, value: str, namespace: str) -> PullSecret:
    kind, sep, rest = value.strip().partition(":")
    if not sep or not rest:
        raise AnnotationError(key, f"{value!r} is not a credential reference; use pullsecret:<ns>/<name>, "
                                   "secret:<ns>/<name>#<field>, env:<VAR> or ext:/path/to/script")
    if kind == "pullsecret":
        ns, slash, name = rest.partition("/")
        if not slash or not ns or not name:
            raise AnnotationError(key, f"{value!r}: pullsecret: needs <namespace>/<name>")
        return PullSecret("pullsecret", ns, name, annotation=key)
    if kind == "secret":
        ref, hash_, field_ = rest.partition("#")
        ns, slash, name = ref.partition("/")
        if not hash_ or not field_ or not slash or not ns or not name:
            raise AnnotationError(key, f"{value!r}: secret: needs <namespace>/<name>#<field>")
        return PullSecret("secret", ns, name, field_, annotation=key)
    if kind == "env":
        return PullSecret("env", name=rest, annotation=key)
    if kind == "ext":
        if not rest.startswith("/"):
            raise AnnotationError(key, f"{value!r}: ext: needs an absolute path to an executable")
        return PullSecret("ext", name=rest, annotation=key)
    raise AnnotationError(key, f"unknown credential source {kind!r}; use pullsecret:, secret:, env: or ext:")


def parse_write_back(annotations: dict[str, str], namespace: str) -> WriteBack:
    values: dict[str, Any] = {}
    key = PREFIX + "write-back-method"
    method = annotations.get(key, "argocd").strip()
    if method == "argocd":
        values["method"] = "argocd"
    elif method in ("git", "git:repocreds"):
        values["method"] = "git"
    elif method.startswith("git:secret:"):
        ref = method.removeprefix("git:secret:")
        ns, slash, name = ref.rpartition("/")
        if not ref or (slash and (not ns or not name)):
            raise AnnotationError(key, f"{method!r}: write git:secret:<namespace>/<name> or git:secret:<name>")
        values.update(method="git", credentials="secret", secret_namespace=ns or namespace,
                      secret_name=name if slash else ref)
    else:
        raise AnnotationError(key, f"{method!r} is not a write-back method; use git, git:repocreds, "
                                   "git:secret:<namespace>/<name> or argocd")
    key = PREFIX + "write-back-target"
    target = annotations.get(key, "").strip()
    if target:
        kind, _, path = target.partition(":")
        if kind not in ("kustomization", "helmvalues"):
            raise AnnotationError(key, f"{target!r} is not a write-back target; use kustomization[:<dir>] or "
                                       "helmvalues[:<file>] (or leave it unset for .argocd-source-<app>.yaml)")
        values.update(target=kind, target_path=path)
    key = PREFIX + "git-branch"
    branch = annotations.get(key, "").strip()
    if branch:
        base, colon, push = branch.partition(":")
        if colon and not push:
            raise AnnotationError(key, f"{branch!r}: nothing after ':'; write <base>:<target> or <branch>")
        values.update(base_branch=base, push_branch=push if colon else "")
    repository = annotations.get(PREFIX + "git-repository", "").strip()
    if repository:
        values["repository"] = repository
    return WriteBack(**values)


def parse_image_updater(annotations: dict[str, str], namespace: str = CONTROLLER_NAMESPACE) -> ImageUpdaterSettings:
    """Every image updater annotation, typed. Raises AnnotationError naming the first bad one."""
    mine = {k: v for k, v in annotations.items() if k.startswith(PREFIX)}
    if not mine:
        return ImageUpdaterSettings()
    warnings: list[Warning_] = []
    list_key = PREFIX + "image-list"
    if list_key not in mine:
        for key in sorted(mine):
            warnings.append(Warning_(key, f"ignored: there is no {list_key} annotation naming the images to update"))
        return ImageUpdaterSettings(warnings=tuple(warnings))
    entries = parse_image_list(mine[list_key])
    aliases = {alias.replace("/", "_"): alias for alias, _, _ in entries if alias}
    used: set[str] = {list_key}

    def get(alias: str, name: str, *, app_wide: bool) -> tuple[str | None, str | None]:
        if alias:
            key = f"{PREFIX}{alias.replace('/', '_')}.{name}"
            if key in mine:
                used.add(key)
                return mine[key], key
        if app_wide:
            key = PREFIX + name
            if key in mine:
                used.add(key)
                return mine[key], key
        return None, None

    images = []
    for alias, image, constraint in entries:
        strategy, strategy_key = get(alias, "update-strategy", app_wide=True)
        if strategy is not None:
            from tagpilot.policy.argo import argo_strategy

            low = strategy.strip().lower()
            if low in ("latest", "name"):
                new = argo_strategy(low)[0]
                warnings.append(Warning_(strategy_key or "", f"update strategy {strategy!r} is deprecated; "
                                                             f"write {new!r} (same behaviour)"))
            elif argo_strategy(strategy)[1]:
                warnings.append(Warning_(strategy_key or "", f"unknown update strategy {strategy!r}; using semver "
                                                             "(as upstream); use semver, newest-build, digest or "
                                                             "alphabetical"))
        force, force_key = get(alias, "force-update", app_wide=True)
        allow, _ = get(alias, "allow-tags", app_wide=True)
        ignore, _ = get(alias, "ignore-tags", app_wide=True)
        secret, secret_key = get(alias, "pull-secret", app_wide=True)
        platforms, platforms_key = get(alias, "platforms", app_wide=False)
        helm_name, _ = get(alias, "helm.image-name", app_wide=False)
        helm_tag, _ = get(alias, "helm.image-tag", app_wide=False)
        helm_spec, _ = get(alias, "helm.image-spec", app_wide=False)
        kustomize_name, kustomize_key = get(alias, "kustomize.image-name", app_wide=False)
        if (helm_name or helm_tag or helm_spec) and kustomize_name:
            raise AnnotationError(kustomize_key or "", f"image {alias!r}: both helm and kustomize manifest targets "
                                                       "configured; keep one of them")
        platform_list: tuple[str, ...] = ()
        if platforms is not None:
            from tagpilot.registry.manifest import Platform

            platform_list = tuple(p.strip() for p in platforms.split(",") if p.strip())
            for p in platform_list:
                try:
                    Platform.parse(p)
                except ValueError as exc:
                    raise AnnotationError(platforms_key or "", str(exc)) from None
        images.append(ImageSettings(
            alias=alias, image=image, constraint=constraint,
            strategy=(strategy or "semver").strip() or "semver", strategy_annotation=strategy_key,
            allow_tags=(allow or "").strip(),
            ignore_tags=tuple(t.strip() for t in ignore.split(",")) if ignore is not None else (),
            platforms=platform_list,
            force_update=_parse_bool(force_key or "", force.strip()) if force is not None else False,
            pull_secret=parse_pull_secret(secret_key or "", secret, namespace) if secret else None,
            helm_image_name=(helm_name or "").strip() or None, helm_image_tag=(helm_tag or "").strip() or None,
            helm_image_spec=(helm_spec or "").strip() or None,
            kustomize_image_name=(kustomize_name or "").strip() or None,
        ))
    write_back = parse_write_back(mine, namespace)
    used.update(PREFIX + k for k in APP_KEYS)
    used.update(PREFIX + k for k in APP_DEFAULT_KEYS)
    for key in sorted(set(mine) - used):
        name = key.removeprefix(PREFIX)
        alias, dot, rest = name.partition(".")
        if dot and rest in IMAGE_KEYS and alias not in aliases:
            message = (f"names image alias {alias!r}, which is not in {list_key}; "
                       f"aliases there: {', '.join(sorted(aliases.values())) or 'none'}")
        elif dot and rest == "tag-match":
            message = "tag-match was renamed allow-tags (upstream v0.9); this annotation is ignored"
        elif name == "platforms":
            message = "platforms is per image only; write <alias>.platforms (this annotation is ignored)"
        else:
            message = "not an Argo CD Image Updater annotation; it is ignored (check the spelling)"
        warnings.append(Warning_(key, message))
    return ImageUpdaterSettings(images=tuple(images), write_back=write_back, warnings=tuple(warnings))
