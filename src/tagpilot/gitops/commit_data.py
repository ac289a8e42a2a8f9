"""The data a Flux `messageTemplate` sees, for both the v1 (`.Changed`) and v1beta1 (`.Updated`) APIs.

Users copy commit-message templates from Flux tutorials of every era, so the value given to the
template reproduces the Go types of image-automation-controller: `TemplateData{AutomationObject,
Changed, Values}` (v1, `internal/source/source.go`) plus the `Updated` result of v1beta1
(`pkg/update/result.go`). Flux v1 rejects `.Updated`; tagpilot serves both at once. Printing any part
of it (`{{ . }}`, `{{ $resource }}`, `{{ .Changed.Changes }}`) gives what Go's fmt would print for
those types, and ranging over the maps visits keys in the order Go's text/template does.

How the Go types are represented for `tagpilot.gotemplate`, and why:

- Structs are frozen dataclasses deriving from `GoStruct`; exported fields are capitalised.
- `ObjectIdentifier` embeds kyaml's `ResourceIdentifier{TypeMeta{APIVersion, Kind}, NameMeta{Name,
  Namespace}}`. The engine has no embedded-field promotion, so the promoted fields (`.Kind`, `.Name`,
  ...) are zero-argument Go methods: `{{ $resource.Kind }}` evaluates identically, while printing
  the struct still shows only the real (nested) fields: `{{{apps/v1 Deployment} {app default}}}`.
- Maps keyed by `ObjectIdentifier` are ranged in Go's `fmtsort` order, which compares struct keys
  field by field: APIVersion, Kind, Name, Namespace. The engine orders non-basic keys by `str(key)`,
  so `ObjectIdentifier.__str__` returns those fields joined by NUL, which sorts exactly like the
  field-by-field comparison (NUL sorts before every other character; Python compares code points,
  which orders like Go's bytewise comparison of UTF-8).
- Flux v1's `Changes`, `ObjectChanges` and `FileChanges` are named slice/map types with a
  `String()` method; they are list/dict subclasses that are also `GoStruct`s, so the engine ranges
  over them as slices/maps and prints them through `String()`, as fmt does for a Stringer.
- `TemplateData.Updated` and `Result.ImageResult` (the v1beta1/v1beta2 fields Flux v1 removed) are
  methods, not fields, so `{{ . }}` prints exactly the three fields Flux v1 prints.

Go iterates maps in random order, so wherever Flux builds a list by ranging over maps
(`Result.Images()` of v1beta1), every order is one Flux could produce; tagpilot uses the order a Go
program would get if map iteration were sorted (files bytewise, objects in fmtsort order, then
document order), so messages are stable from run to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Flux's default message and template name (`template: commit message:1: ...` in errors) have one
# home, the ImageUpdateAutomation model, which parses the template when the configuration loads.
from tagpilot.config.flux_automation import COMMIT_TEMPLATE_NAME as TEMPLATE_NAME
from tagpilot.config.flux_automation import DEFAULT_MESSAGE
from tagpilot.errors import InvalidReference
from tagpilot.gotemplate import GoMap, GoSlice, GoStruct, TemplateError, TemplateParseError, render
from tagpilot.gotemplate.gofmt import quote
from tagpilot.registry.reference import parse_reference, split_as_written, split_image_and_constraint
from tagpilot.update.model import Change, ImageRef, ObjectId

_SETTER_FIELDS = ("tag", "name", "digest")


# --------------------------------------------------------------------------- small Go structs


@dataclass(frozen=True)
class NamespacedName(GoStruct):
    """k8s `types.NamespacedName`: `.AutomationObject` and `ImageRef.Policy`; prints `namespace/name`."""

    go_type = "types.NamespacedName"
    Namespace: str = ""
    Name: str = ""

    def String(self) -> str:
        """As apimachinery: always `namespace/name`, even with an empty namespace (`/name`)."""
        return f"{self.Namespace}/{self.Name}"


@dataclass(frozen=True)
class TypeMeta(GoStruct):
    """kyaml `yaml.TypeMeta`."""

    go_type = "yaml.TypeMeta"
    APIVersion: str = ""
    Kind: str = ""


@dataclass(frozen=True)
class NameMeta(GoStruct):
    """kyaml `yaml.NameMeta`."""

    go_type = "yaml.NameMeta"
    Name: str = ""
    Namespace: str = ""


class _Promoted:
    """Go's promoted fields of the embedded TypeMeta/NameMeta, as zero-argument methods."""

    def _ri(self) -> ResourceIdentifier:
        raise NotImplementedError

    def APIVersion(self) -> str:
        return self._ri().TypeMeta.APIVersion

    def Kind(self) -> str:
        return self._ri().TypeMeta.Kind

    def Name(self) -> str:
        return self._ri().NameMeta.Name

    def Namespace(self) -> str:
        return self._ri().NameMeta.Namespace


@dataclass(frozen=True)
class ResourceIdentifier(_Promoted, GoStruct):
    """kyaml `yaml.ResourceIdentifier{TypeMeta, NameMeta}` (both embedded)."""

    go_type = "yaml.ResourceIdentifier"
    TypeMeta: TypeMeta
    NameMeta: NameMeta

    def _ri(self) -> ResourceIdentifier:
        return self


@dataclass(frozen=True)
class ObjectIdentifier(_Promoted, GoStruct):
    """Flux's `update.ObjectIdentifier{yaml.ResourceIdentifier}`: the key of the object maps."""

    go_type = "update.ObjectIdentifier"
    ResourceIdentifier: ResourceIdentifier

    @classmethod
    def of(cls, oid: ObjectId | None) -> ObjectIdentifier:
        """From the rewriter's ObjectId; a document without kind/metadata gives the zero identifier."""
        oid = oid or ObjectId()
        return cls(ResourceIdentifier(TypeMeta(oid.api_version, oid.kind), NameMeta(oid.name, oid.namespace)))

    def _ri(self) -> ResourceIdentifier:
        return self.ResourceIdentifier

    def TypeMeta(self) -> TypeMeta:
        return self.ResourceIdentifier.TypeMeta

    def NameMeta(self) -> NameMeta:
        return self.ResourceIdentifier.NameMeta

    def fields(self) -> tuple[str, str, str, str]:
        """(APIVersion, Kind, Name, Namespace): struct field order, which is Go's fmtsort order."""
        return (self.APIVersion(), self.Kind(), self.Name(), self.Namespace())

    def flux_order(self) -> tuple[str, str, str, str]:
        """Flux's own `lessObjectIdentifier` order (APIVersion, Kind, Namespace, Name), used by String()."""
        return (self.APIVersion(), self.Kind(), self.Namespace(), self.Name())

    def go_sprint(self) -> str:
        """fmt's `%v`/`%s` of the struct (it has no String method): `{{{apps/v1 Deployment} {app ns}}}`."""
        a, k, n, ns = self.fields()
        return f"{{{{{{{a} {k}}} {{{n} {ns}}}}}}}"

    def __str__(self) -> str:
        # The engine orders map keys that are not basic values by str(); see the module docstring.
        return "\x00".join(self.fields())


# --------------------------------------------------------------------------- v1: .Changed


@dataclass(frozen=True)
class TemplateChange(GoStruct):
    """Flux's `update.Change{OldValue, NewValue, Setter}`; comparable, so Changes() can de-duplicate."""

    go_type = "update.Change"
    OldValue: str
    NewValue: str
    Setter: str

    def sort_key(self) -> tuple[str, str, str]:
        """Flux's sortChanges: by Setter, then OldValue, then NewValue."""
        return (self.Setter, self.OldValue, self.NewValue)


class Changes(GoSlice, GoStruct):
    """Flux's `update.Changes []Change`, whose String() prints a sorted, quoted listing."""

    def __init__(self, items: Iterable[TemplateChange] = ()) -> None:
        super().__init__(items, elem="update.Change")

    def String(self) -> str:
        """`[{OldValue:"a" NewValue:"b" Setter:"ns:p"} ...]`, sorted like sortChanges."""
        parts = [
            f"{{OldValue:{quote(c.OldValue)} NewValue:{quote(c.NewValue)} Setter:{quote(c.Setter)}}}"
            for c in sorted(self, key=TemplateChange.sort_key)
        ]
        return "[" + " ".join(parts) + "]"


class ObjectChanges(GoMap, GoStruct):
    """Flux's `update.ObjectChanges map[ObjectIdentifier]Changes`."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items, key="update.ObjectIdentifier", elem="update.Changes")

    def String(self) -> str:
        """`{<object>:<changes> ...}` with objects in Flux's lessObjectIdentifier order."""
        keys = sorted(self, key=ObjectIdentifier.flux_order)
        return "{" + " ".join(f"{k.go_sprint()}:{self[k].String()}" for k in keys) + "}"


class FileChanges(GoMap, GoStruct):
    """Flux's `update.FileChanges map[string]ObjectChanges` (file names relative to the update path)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items, key="string", elem="update.ObjectChanges")

    def String(self) -> str:
        """`{"file.yaml":{...} ...}` with files sorted."""
        return "{" + " ".join(f"{quote(f)}:{self[f].String()}" for f in sorted(self)) + "}"


class ChangeResult(GoStruct):
    """Flux v1's `update.Result` (`.Changed`).

    A plain GoStruct (not a dataclass) so that the hidden `_image_result` is not a printed field.
    """

    go_type = "update.Result"

    def __init__(self, file_changes: FileChanges, image_result: UpdateResult | None = None) -> None:
        self.FileChanges = file_changes
        self._image_result = image_result

    def Changes(self) -> Changes:
        """Every distinct change (a Change is compared by value), sorted by Setter, OldValue, NewValue.

        The same value rewritten in two places (two containers, two files) is listed once.
        """
        seen: dict[TemplateChange, None] = {}
        for objects in self.FileChanges.values():
            for changes in objects.values():
                for change in changes:
                    seen.setdefault(change, None)
        return Changes(sorted(seen, key=TemplateChange.sort_key))

    def Objects(self) -> ObjectChanges:
        """Changes per object across all files (appended, not de-duplicated), each list sorted."""
        merged: dict[ObjectIdentifier, list[TemplateChange]] = {}
        for file in sorted(self.FileChanges):
            for oid, changes in self.FileChanges[file].items():
                merged.setdefault(oid, []).extend(changes)
        return ObjectChanges({k: Changes(sorted(v, key=TemplateChange.sort_key)) for k, v in merged.items()})

    def ImageResult(self) -> UpdateResult:
        """v1beta2's `.Changed.ImageResult` (removed in Flux v1): the v1beta1 result."""
        return self._image_result or UpdateResult(GoMap({}, key="string", elem="update.FileResult"))


# --------------------------------------------------------------------------- v1beta1: .Updated


@dataclass(frozen=True)
class TemplateImageRef(GoStruct):
    """Flux's `update.imageRef{name.Reference, policy}`: an ImageRef whose String() is the ref as applied.

    go-containerregistry's `Tag.String()`/`Digest.String()` return the original text given to
    ParseReference, which Flux builds from the policy's latest ref: `name:tag` (`@digest` when
    reflected), with the name as written in the ImageRepository (`nginx:1.27`, not
    `index.docker.io/library/nginx:1.27`). Fields are unexported, as in Go.
    """

    go_type = "update.imageRef"
    original: str
    name: str
    tag: str | None
    digest: str | None
    policy: NamespacedName

    @classmethod
    def of(cls, ref: ImageRef, policy: NamespacedName | None = None) -> TemplateImageRef:
        return cls(str(ref), ref.name, ref.tag, ref.digest, policy or NamespacedName())

    def String(self) -> str:
        return self.original

    def Identifier(self) -> str:
        """The digest for a digest reference, else the tag (`latest` when none), as go-containerregistry."""
        if self.digest:
            return self.digest
        return self.tag or "latest"

    def _parsed(self) -> tuple[str, str]:
        try:
            ref = parse_reference(self.name)
        except InvalidReference:
            return "", self.name
        return ref.api_host, ref.path

    def Registry(self) -> str:
        """`index.docker.io` for Docker Hub, else the host[:port]."""
        return self._parsed()[0]

    def Repository(self) -> str:
        """The repository path with implied defaults: `library/nginx`."""
        return self._parsed()[1]

    def Name(self) -> str:
        """The fully-qualified reference: `index.docker.io/library/nginx:1.27` (or `...@sha256:...`)."""
        registry, path = self._parsed()
        base = f"{registry}/{path}" if registry else path
        return f"{base}@{self.digest}" if self.digest else f"{base}:{self.Identifier()}"

    def Policy(self) -> NamespacedName:
        """The ImagePolicy that selected this image (empty when tagpilot could not attribute it)."""
        return self.policy


@dataclass(eq=False)
class FileResult(GoStruct):
    """v1beta1 `update.FileResult{Objects map[ObjectIdentifier][]ImageRef}`."""

    go_type = "update.FileResult"
    Objects: GoMap


class UpdateResult(GoStruct):
    """v1beta1 `update.Result{Files map[string]FileResult}` (`.Updated`)."""

    go_type = "update.Result"

    def __init__(self, files: GoMap, extra_images: Sequence[TemplateImageRef] = ()) -> None:
        self.Files = files
        self._extra_images = tuple(extra_images)

    def Images(self) -> GoSlice:
        """Every image involved in at least one update, each (ref, policy) once.

        Flux collects them by ranging over its maps (random order); here files are taken in
        bytewise order, objects in fmtsort order, refs in document order, and images the caller
        reported as applied that no change could be attributed to come last.
        """
        seen: dict[TemplateImageRef, None] = {}
        for file in sorted(self.Files):
            objects = self.Files[file].Objects
            for oid in sorted(objects, key=ObjectIdentifier.fields):
                for ref in objects[oid]:
                    seen.setdefault(ref, None)
        for ref in self._extra_images:
            if not any(r.original == ref.original for r in seen):
                seen.setdefault(ref, None)
        return GoSlice(seen, elem="update.ImageRef")

    def Objects(self) -> GoMap:
        """Images per object across all files (appended, as Flux does; no de-duplication across files)."""
        merged: dict[ObjectIdentifier, list[TemplateImageRef]] = {}
        for file in sorted(self.Files):
            for oid, refs in self.Files[file].Objects.items():
                merged.setdefault(oid, []).extend(refs)
        return _object_map({k: GoSlice(v, elem="update.ImageRef") for k, v in merged.items()})


def _object_map(items: Mapping[ObjectIdentifier, Any]) -> GoMap:
    return GoMap(items, key="update.ObjectIdentifier", elem="[]update.ImageRef")


# --------------------------------------------------------------------------- the template data


class TemplateData(GoStruct):
    """Flux's `source.TemplateData`: the dot of a commit-message template.

    Fields in Flux v1's order (`AutomationObject`, `Changed`, `Values`); `Updated` is a method.
    """

    go_type = "source.TemplateData"

    def __init__(self, automation_object: NamespacedName, changed: ChangeResult, values: GoMap,
                 updated: UpdateResult | None = None) -> None:
        self.AutomationObject = automation_object
        self.Changed = changed
        self.Values = values
        self._updated = updated

    def Updated(self) -> UpdateResult:
        """v1beta1's `.Updated` (Flux v1 rejects it; tagpilot keeps old templates working)."""
        return self._updated or self.Changed.ImageResult()


def split_setter(setter: str) -> tuple[str, str]:
    """`ns:policy[:tag|:name|:digest]` → (`ns:policy`, field); the field is '' for a full-ref marker."""
    head, sep, last = setter.rpartition(":")
    if sep and last in _SETTER_FIELDS and ":" in head:
        return head, last
    return setter, ""


def _policy_name(policy_key: str) -> NamespacedName:
    namespace, _, name = policy_key.partition(":")
    return NamespacedName(namespace, name)


def _parse_applied(value: str) -> ImageRef:
    """An ImageRef from a full-ref marker's new value (`name:tag[@digest]`), as written."""
    try:
        return ImageRef(*split_as_written(value))
    except InvalidReference:  # not one Docker takes (a hand-edited file): split it as it is written
        before, at, digest = value.partition("@")
        name, tag = split_image_and_constraint(before)
        return ImageRef(name, tag, digest if at else None)


def _resolve(change: Change, images: Sequence[ImageRef] | Mapping[str, ImageRef]) -> TemplateImageRef | None:
    """The image that a change applied, and the policy it came from.

    With a mapping (policy `ns:name` → ImageRef) this is exact. With a plain sequence the image is
    found by the part the marker wrote (full ref, tag, name or digest); a full-ref marker's new value
    is the ref itself even when it is not in the sequence.
    """
    if change.policy is not None:  # the rewriter parsed the marker already
        policy_key, field = f"{change.policy[0]}:{change.policy[1]}", change.part
    else:  # a Change built by hand (tests, older callers): read the setter string
        policy_key, field = split_setter(change.setter)
    policy = _policy_name(policy_key)
    if isinstance(images, Mapping):
        ref = images.get(policy_key)
        if ref is not None:
            return TemplateImageRef.of(ref, policy)
    else:
        for ref in images:
            if ref.value_for(field) == change.new_value:
                return TemplateImageRef.of(ref, policy)
    if field == "":
        return TemplateImageRef.of(_parse_applied(change.new_value), policy)
    return None


def build_commit_data(
    automation_namespace: str,
    automation_name: str,
    changes: Sequence[Change],
    images: Sequence[ImageRef] | Mapping[str, ImageRef] = (),
    values: Mapping[str, str] | None = None,
) -> TemplateData:
    """The value Flux passes to `messageTemplate`, built from the rewriter's changes.

    `changes` are the values actually changed (Flux records a change only when the new value
    differs), in document order; `images` are the refs the policies selected, either as a sequence
    or, better, as a mapping from policy (`namespace:name`) to ref, which makes `.Policy` and the
    per-object images of `.Updated` exact. `values` is `messageTemplateValues`.
    """
    file_changes: dict[str, dict[ObjectIdentifier, list[TemplateChange]]] = {}
    file_images: dict[str, dict[ObjectIdentifier, list[TemplateImageRef]]] = {}
    for change in changes:
        oid = ObjectIdentifier.of(change.object)
        file_changes.setdefault(change.file, {}).setdefault(oid, []).append(
            TemplateChange(change.old_value, change.new_value, change.setter)
        )
        # v1beta1 lists each (ref, policy) once per object, even when several markers wrote it.
        refs = file_images.setdefault(change.file, {}).setdefault(oid, [])
        ref = _resolve(change, images)
        if ref is not None and ref not in refs:
            refs.append(ref)

    extra = () if isinstance(images, Mapping) else tuple(TemplateImageRef.of(r) for r in images)
    files = {
        file: FileResult(_object_map({oid: GoSlice(refs, elem="update.ImageRef") for oid, refs in objs.items()}))
        for file, objs in file_images.items()
    }
    updated = UpdateResult(GoMap(files, key="string", elem="update.FileResult"), extra)
    changed = ChangeResult(
        FileChanges(
            {
                file: ObjectChanges({oid: Changes(lst) for oid, lst in objs.items()})
                for file, objs in file_changes.items()
            }
        ),
        updated,
    )
    return TemplateData(
        NamespacedName(automation_namespace, automation_name),
        changed,
        GoMap(dict(values or {}), key="string", elem="string"),
        updated,
    )


def render_commit_message(template: str | None, data: Any) -> str:
    """Render `messageTemplate` (Go text/template + hermetic Sprig) as Flux does.

    An empty or missing template gives Flux's default message. Errors are the engine's
    `TemplateError` subclasses, with Flux's wording in front of Go's message.
    """
    text = template or DEFAULT_MESSAGE
    try:
        return render(text, data, name=TEMPLATE_NAME)
    except TemplateError as err:
        what = (
            "unable to create commit message template from spec"
            if isinstance(err, TemplateParseError)
            else "failed to run template from spec"
        )
        raise type(err)(f"{what}: {err}") from err
