"""Argo CD Image Updater's `ImageUpdater` (`argocd-image-updater.argoproj.io/v1alpha1`), the v1.x form.

The CR names Applications (`applicationRefs[]`: a `namePattern` glob and optional `labelSelectors`)
and, per ref, the images to update with their settings. Settings are layered as upstream does
(shared/reference/argocd-image-updater.md §2): `commonUpdateSettings` of the image, else of the
applicationRef, else of the spec, field by field; `writeBackConfig` of the ref, else of the spec.
`useAnnotations: true` makes a ref read the matched Application's legacy annotations instead (only
its `namePattern`/`labelSelectors` are used then).

`settings_for(ref)` turns one ref into the same typed `ImageUpdaterSettings` the annotations give
(`config/argo_cd.py`), so the Application write path serves both forms unchanged. Everything upstream's
CRD and controller refuse is refused at load, naming the field: a bad alias, a bad glob, a
`manifestTargets` with two targets, a `pullRequest` with both or neither forge, a `branch` with `:`
together with `pullRequest`, too many or too long labels, cross-namespace secret references (v1.x
multi-tenant rule), a malformed `method`.

Parts tagpilot cannot do here are accepted by the model and refused by the reconciler with a
condition that says so (never silently ignored): `imagesVerification` (cosign), `plugin` manifest
targets, and method `argocd` (needs a cluster). `pullRequest` pushes to upstream's head branch
`image-updater-<targetKey>-<sha256>` and opens the request (engine/argo_pull_request.py).

Namespace: an ImageUpdater without `metadata.namespace` is in `argocd`, like Applications, because
upstream matches Applications in the CR's own namespace only and Argo CD's are in `argocd`.
`spec.namespace` is deprecated upstream and ignored; the reconciler warns when it is set.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.argo_cd import (
    CONTROLLER_NAMESPACE,
    PREFIX,
    AnnotationError,
    ImageSettings,
    ImageUpdaterSettings,
    PullRequestMode,
    Warning_,
    WriteBack,
    parse_image_list,
    parse_pull_secret,
    parse_write_back,
)
from tagpilot.config.base import Model, Object, ObjectMeta, PlainText
from tagpilot.config.flux_automation import LabelSelector

API_VERSION = "argocd-image-updater.argoproj.io/v1alpha1"
ALIAS_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9-._]*$"
METHOD_PATTERN = r"^(argocd|git|git:[a-zA-Z0-9][a-zA-Z0-9-._/:]*)$"
INTERVAL_ANNOTATION = "tagpilot.dev/interval"
# pull request mode: upstream's head branch, and where the forge API is when not derived from the repository
PULL_REQUEST_BRANCH = "image-updater-{{.TargetKey}}-{{.SHA256}}"
PULL_REQUEST_API = "tagpilot.dev/pull-request-api"


class CommonUpdateSettings(Model):
    update_strategy: str | None = None
    force_update: bool | None = None
    allow_tags: str | None = None
    ignore_tags: list[str] | None = None
    pull_secret: str | None = None
    platforms: list[str] | None = None

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str] | None) -> list[str] | None:
        from tagpilot.registry.manifest import Platform

        for p in value or []:
            try:
                Platform.parse(p)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        return value


class GitHubPullRequest(Model):
    pass


class GitLabPullRequest(Model):
    pass


class PullRequestConfig(Model):
    github: GitHubPullRequest | None = None
    gitlab: GitLabPullRequest | None = None
    labels: list[str] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one_forge(self) -> PullRequestConfig:
        if (self.github is None) == (self.gitlab is None):
            raise ValueError("pullRequest needs exactly one of github: {} or gitlab: {}")
        for label in self.labels or []:
            if not 1 <= len(label) <= 255:
                raise ValueError(f"pullRequest label {label[:40]!r} must be 1 to 255 characters long")
        return self


class GitConfig(Model):
    repository: PlainText | None = None
    branch: PlainText | None = None
    write_back_target: PlainText | None = None
    pull_request: PullRequestConfig | None = None

    @model_validator(mode="after")
    def _branch_and_pr(self) -> GitConfig:
        if self.pull_request is not None and self.branch and ":" in self.branch:
            raise ValueError("branch with ':' (base:target) cannot be used together with pullRequest; the pull "
                             "request's head branch is chosen by the updater, name only the base branch")
        return self


class WriteBackConfig(Model):
    method: str | None = Field(default=None, pattern=METHOD_PATTERN)
    git_config: GitConfig | None = None


class CosignKey(Model):
    secret_name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class ImagesVerification(Model):
    enabled: bool = True  # upstream: the block being present turns verification on
    cosign_key: CosignKey | None = None


class HelmTarget(Model):
    name: str | None = None
    tag: str | None = None
    spec: str | None = None


class KustomizeTarget(Model):
    name: str = Field(min_length=1)


class PluginTarget(Model):
    name: str | None = None
    tag: str | None = None
    spec: str | None = None

    @model_validator(mode="after")
    def _one(self) -> PluginTarget:
        if not self.spec and not self.name:
            raise ValueError("plugin needs at least one of spec or name (environment variable names)")
        return self


class ManifestTarget(Model):
    helm: HelmTarget | None = None
    kustomize: KustomizeTarget | None = None
    plugin: PluginTarget | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ManifestTarget:
        if sum(t is not None for t in (self.helm, self.kustomize, self.plugin)) != 1:
            raise ValueError("manifestTargets needs exactly one of helm, kustomize or plugin")
        return self


class ImageConfig(Model):
    alias: str = Field(pattern=ALIAS_PATTERN)
    image_name: PlainText = Field(min_length=1)
    common_update_settings: CommonUpdateSettings | None = None
    images_verification: ImagesVerification | None = None
    manifest_targets: ManifestTarget | None = None

    @field_validator("image_name")
    @classmethod
    def _image(cls, value: str) -> str:
        if "=" in value or "," in value:
            raise ValueError("imageName is registry/repository[:constraint]; the alias goes in alias:")
        try:
            parse_image_list(value, "imageName")
        except AnnotationError as exc:
            raise ValueError(str(exc).removeprefix("annotation imageName: ")) from None
        return value


class ApplicationRef(Model):
    name_pattern: str = Field(min_length=1)
    label_selectors: LabelSelector | None = None
    use_annotations: bool = False
    common_update_settings: CommonUpdateSettings | None = None
    write_back_config: WriteBackConfig | None = None
    images_verification: ImagesVerification | None = None
    images: list[ImageConfig] = Field(default_factory=list)

    @field_validator("name_pattern")
    @classmethod
    def _glob(cls, value: str) -> str:
        from tagpilot.policy.goglob import GlobError, compile_glob

        try:
            compile_glob(value)
        except GlobError as exc:
            raise ValueError(f"invalid application name pattern {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _images(self) -> ApplicationRef:
        if not self.use_annotations and not self.images:
            raise ValueError("images is required unless useAnnotations is true (name the images to update)")
        aliases = [i.alias for i in self.images]
        for alias in aliases:
            if aliases.count(alias) > 1:
                raise ValueError(f"alias {alias!r} is used twice; give each image its own alias")
        return self

    def specificity(self) -> int:
        """Upstream's score: an exact name ≫ a label selector ≫ literal characters of the glob."""
        import re

        score = 0 if any(c in self.name_pattern for c in "*?[]") else 1_000_000
        score += len(re.sub(r"\[.*?]", "", self.name_pattern).replace("*", "").replace("?", ""))
        if self.label_selectors is not None:
            score += 10_000 + 100 * (len(self.label_selectors.match_labels) +
                                     len(self.label_selectors.match_expressions))
        return score

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        from tagpilot.config.flux_automation import selector_matches
        from tagpilot.policy.goglob import glob_match

        return glob_match(self.name_pattern, name) and selector_matches(self.label_selectors, labels)


class ImageUpdaterSpec(Model):
    namespace: str | None = None  # deprecated upstream, ignored (the CR's own namespace is used)
    common_update_settings: CommonUpdateSettings | None = None
    write_back_config: WriteBackConfig | None = None
    images_verification: ImagesVerification | None = None
    application_refs: list[ApplicationRef] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ImageUpdaterSpec:
        patterns = [r.name_pattern for r in self.application_refs]
        for p in patterns:
            if patterns.count(p) > 1:
                raise ValueError(f"applicationRefs: namePattern {p!r} is listed twice (the list is keyed by "
                                 "namePattern); merge the two entries")
        return self


class ImageUpdaterMeta(ObjectMeta):
    namespace: str = Field(default=CONTROLLER_NAMESPACE, min_length=1, max_length=63,
                           pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ImageUpdater(Object):
    api_version: Literal["argocd-image-updater.argoproj.io/v1alpha1"]
    kind: Literal["ImageUpdater"]
    metadata: ImageUpdaterMeta
    spec: ImageUpdaterSpec

    @model_validator(mode="after")
    def _resolvable(self) -> ImageUpdater:
        """Every ref resolves to settings (secret forms, same-namespace rule, method, target)."""
        interval = self.interval_text()
        if interval is not None:
            from tagpilot.config.base import _check_duration, _check_interval

            try:
                _check_interval(_check_duration(interval))
            except ValueError as exc:
                raise ValueError(f"annotation {INTERVAL_ANNOTATION}: {exc}") from None
        for index, ref in enumerate(self.spec.application_refs):
            if ref.use_annotations:
                continue
            try:
                self.settings_for(ref)
            except AnnotationError as exc:
                raise ValueError(f"spec.applicationRefs[{index}] ({ref.name_pattern}): {exc}") from None
        return self

    def interval_text(self) -> str | None:
        return self.metadata.annotations.get(INTERVAL_ANNOTATION)

    def sorted_refs(self) -> list[ApplicationRef]:
        """Most specific first; equal scores keep their order (a stable sort, as upstream)."""
        return sorted(self.spec.application_refs, key=lambda r: -r.specificity())

    def ref_for(self, name: str, labels: dict[str, str]) -> ApplicationRef | None:
        """The ref an Application takes: the first match of the sorted refs."""
        return next((r for r in self.sorted_refs() if r.matches(name, labels)), None)

    # --- from the CR to the typed settings the Application write path reads ----------------------

    def write_back_for(self, ref: ApplicationRef) -> tuple[WriteBack, PullRequestConfig | None]:
        spec, mine = self.spec.write_back_config, ref.write_back_config
        method = (mine.method if mine and mine.method else None) or (spec.method if spec else None) or "argocd"
        git: dict[str, Any] = {}
        for layer in (spec, mine):
            if layer is not None and layer.git_config is not None:
                git.update({k: v for k, v in layer.git_config if v is not None})
        values = {PREFIX + "write-back-method": method}
        for field_name, key in (("repository", "git-repository"), ("branch", "git-branch"),
                                ("write_back_target", "write-back-target")):
            if git.get(field_name):
                values[PREFIX + key] = git[field_name]
        path = "writeBackConfig"
        try:
            write_back = parse_write_back(values, self.namespace)
        except AnnotationError as exc:
            field_name = {"write-back-method": "method", "git-repository": "gitConfig.repository",
                          "git-branch": "gitConfig.branch", "write-back-target": "gitConfig.writeBackTarget"}
            raise AnnotationError(f"{path}.{field_name.get(exc.key.removeprefix(PREFIX), exc.key)}",
                                  str(exc).split(": ", 1)[1]) from None
        if write_back.credentials == "secret" and write_back.secret_namespace != self.namespace:
            raise AnnotationError(f"{path}.method", f"git:secret: names namespace {write_back.secret_namespace!r}; "
                                  f"an ImageUpdater may only use Secrets of its own namespace {self.namespace!r}")
        return write_back, git.get("pull_request")

    def settings_for(self, ref: ApplicationRef) -> ImageUpdaterSettings:
        write_back, pull_request = self.write_back_for(ref)
        if pull_request is not None:  # upstream's fixed head branch, into `branch` (the base)
            mode = PullRequestMode("github" if pull_request.github is not None else "gitlab",
                                   tuple(pull_request.labels or ()),
                                   (self.metadata.annotations or {}).get(PULL_REQUEST_API, ""))
            write_back = replace(write_back, push_branch=PULL_REQUEST_BRANCH, pull_request=mode)
        from tagpilot.policy.argo import argo_strategy

        images, warnings = [], []
        for index, image in enumerate(ref.images):
            where = f"images[{index}]"
            merged = _merge(self.spec.common_update_settings, ref.common_update_settings,
                            image.common_update_settings)
            strategy = (merged.get("update_strategy") or "").strip()
            field_path = f"{where} ({image.alias}) commonUpdateSettings.updateStrategy"
            if strategy.lower() in ("latest", "name"):
                warnings.append(Warning_(field_path, f"update strategy {strategy!r} is deprecated; write "
                                                     f"{argo_strategy(strategy.lower())[0]!r} (same behaviour)"))
            elif strategy and argo_strategy(strategy)[1]:
                warnings.append(Warning_(field_path, f"unknown update strategy {strategy!r}; using semver (as "
                                                     "upstream); use semver, newest-build, digest or alphabetical"))
            (alias, name, constraint), = parse_image_list(f"{image.alias}={image.image_name}")
            settings = ImageSettings(
                alias=alias, image=name, constraint=constraint,
                strategy=(merged.get("update_strategy") or "semver").strip() or "semver",
                strategy_annotation=f"{where}.commonUpdateSettings.updateStrategy",
                allow_tags=(merged.get("allow_tags") or "").strip(),
                ignore_tags=tuple(t.strip() for t in merged.get("ignore_tags") or ()),
                platforms=tuple(merged.get("platforms") or ()),
                force_update=bool(merged.get("force_update")),
            )
            secret = merged.get("pull_secret")
            if secret:
                key = f"{where}.commonUpdateSettings.pullSecret"
                pull = parse_pull_secret(key, secret, self.namespace)
                if pull.kind in ("pullsecret", "secret") and pull.namespace != self.namespace:
                    raise AnnotationError(key, f"{secret!r} names namespace {pull.namespace!r}; an ImageUpdater may "
                                               f"only use Secrets of its own namespace {self.namespace!r}")
                settings = replace(settings, pull_secret=pull)
            targets = image.manifest_targets
            if targets is not None and targets.helm is not None:
                h = targets.helm
                settings = replace(settings, helm_image_name=h.name or None, helm_image_tag=h.tag or None,
                                   helm_image_spec=h.spec or None)
            elif targets is not None and targets.kustomize is not None:
                settings = replace(settings, kustomize_image_name=targets.kustomize.name)
            images.append(settings)
        return ImageUpdaterSettings(images=tuple(images), write_back=write_back, warnings=tuple(warnings))

    def unsupported(self, ref: ApplicationRef) -> list[str]:
        """What this ref asks for that tagpilot cannot do here, as `field: why` lines."""
        out = []
        verification = [v for v in (self.spec.images_verification, ref.images_verification,
                                    *(i.images_verification for i in ref.images)) if v is not None and v.enabled]
        if verification:
            out.append("imagesVerification: cosign signature verification is not supported; remove the block or "
                       "set enabled: false (images would otherwise be updated unverified)")
        for index, image in enumerate(ref.images):
            if image.manifest_targets is not None and image.manifest_targets.plugin is not None:
                out.append(f"images[{index}].manifestTargets.plugin: config management plugin targets are not "
                           "supported; use helm or kustomize")
        return out


def _merge(*layers: CommonUpdateSettings | None) -> dict[str, Any]:
    """Field by field, later layers win (upstream's mergeCommonUpdateSettings)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is not None:
            merged.update({k: v for k, v in layer if v is not None})
    return merged
