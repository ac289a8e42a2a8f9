"""The kind registry: everything the engine, daemon, CLI and receivers need to know about a kind.

Each kind is declared once, in its own module, as a `Kind`: its configuration model, its reconciler,
how often it is due on its own, which objects must run after its output changed, what a request to
reconcile it runs (an input kind such as GitRepository runs the automations that read it), its
columns for `tagpilot get`, and whether a webhook Receiver may name it. The controller, scheduler,
daemon, `get`, `reconcile KIND/NS/NAME`, suspend/resume and receivers find kinds only here.

Adding a kind = one module that defines `KINDS = (Kind(...),)` + one line in `MODULES` below
(and its configuration model in `tagpilot.config.loader.MODELS`). This mirrors Flux's policy factory
and pre-commit's language table: a small interface, a table, one file per variant.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tagpilot.engine.status import ObjectStatus

if TYPE_CHECKING:
    from tagpilot.engine.keys import ObjectKey
    from tagpilot.engine.reconciler import Context, Reconciler
    from tagpilot.store.protocols import ObjectSource, StatusStore

# The modules that declare kinds, with the kinds each declares, in dependency order of their first kind
# (a full round runs scans, then policies, then automations). One line per module. A module is
# imported when one of its kinds is first asked for by name, so a Flux configuration never imports
# the Argo CD, promotion or notification engines; listing every kind imports them all.
MODULES: dict[str, tuple[str, ...]] = {
    "tagpilot.engine.scan": ("ImageRepository",),
    "tagpilot.engine.policies": ("ImagePolicy",),
    "tagpilot.engine.automation": ("ImageUpdateAutomation", "GitRepository"),
    "tagpilot.engine.argo_app": ("Application",),
    "tagpilot.engine.argo_updater": ("ImageUpdater",),
    "tagpilot.engine.inputs": ("Secret", "Receiver", "EventSource", "Sensor"),
    "tagpilot.engine.notifications": ("ConfigMap", "Provider", "Alert"),
    "tagpilot.engine.retention": ("RetentionPolicy",),
    "tagpilot.engine.argocd_server": ("ArgoCDServer",),
    "tagpilot.engine.promotion": ("Promotion",),
}


def _none(_source: ObjectSource, _obj: Any) -> list[ObjectKey]:
    return []


def _no_interval(_obj: Any) -> float | None:
    return None


@dataclass(frozen=True)
class Column:
    """One column of `tagpilot get <kind>`: a header and how to read it from the object's view."""

    header: str
    value: Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Kind:
    """A kind tagpilot reads, and (when `reconciler` is set) reconciles."""

    name: str  # "ImageRepository"
    model: type[Any]  # the configuration model (tagpilot.config)
    plural: str  # "imagerepositories": `tagpilot get imagerepositories`, API aliases
    short: tuple[str, ...] = ()  # other names accepted on the command line ("repositories", "repo")
    reconciler: Callable[[Context], Reconciler] | None = None
    status: type[ObjectStatus] = field(default=ObjectStatus)  # the typed status its reconciler works on
    order: int = 100  # a full round runs lower orders first (their outputs are the others' inputs)
    interval: Callable[[Any], float | None] = _no_interval  # seconds between runs on its own
    dependents: Callable[[ObjectSource, Any], list[ObjectKey]] = _none  # run after its output changed
    # the objects whose output this object reads (a Promotion's source automation, policy or previous
    # Promotion): when one of them changes, this object runs at once, without that kind knowing about it
    reads: Callable[[Any], list[ObjectKey]] | None = None
    runs: Callable[[ObjectSource, Any], list[ObjectKey]] | None = None  # input kinds: what a request runs
    rerun_on_change: bool = False  # a changed object of this kind re-runs the reconciled objects
    webhook_target: bool = False  # a Flux Receiver's spec.resources may name it
    listed: bool = True  # shown by `get all` and the API (Secrets are not)
    # status fields read from the configuration itself, for kinds nothing reconciles (a Receiver's
    # `webhookPath`, as Flux writes it)
    observe: Callable[[ObjectSource, Any], dict[str, Any]] | None = None
    columns: tuple[Column, ...] = field(default_factory=tuple)
    # objects of one kind that feed each other (a chain of Promotions): added to `order` per object
    object_order: Callable[[ObjectSource, Any], int] | None = None
    # upstream's `Reconciling` condition (Argo CD Image Updater's CR): True, stored, while a run is in
    # progress (a daemon's API and `tagpilot get` beside it see it), False/Idle once it is done
    reports_progress: bool = False

    @property
    def reconciled(self) -> bool:
        return self.reconciler is not None

    def names(self) -> set[str]:
        return {self.name.lower(), self.plural.lower(), *(s.lower() for s in self.short)}


class KindRegistry:
    """The table of kinds. A kind's module (`MODULES`) is imported when the kind is first asked for
    by its name; `all()` and a search by plural or short name import every module."""

    def __init__(self, modules: Mapping[str, Sequence[str]] = MODULES) -> None:
        self._modules = {module: tuple(names) for module, names in dict(modules).items()}
        self._owner = {name: module for module, names in self._modules.items() for name in names}
        self._loaded: set[str] = set()
        self._kinds: dict[str, Kind] = {}
        self._ordered: dict[str, Kind] | None = None  # every kind, in `MODULES` order, then registered ones
        self._readers: tuple[dict[ObjectKey, Any], dict[ObjectKey, list[ObjectKey]]] | None = None

    def _load(self, module: str) -> None:
        kinds = importlib.import_module(module).KINDS
        declared = tuple(kind.name for kind in kinds)
        if declared != self._modules[module]:
            raise RuntimeError(f"{module} declares kinds {declared}; MODULES lists {self._modules[module]}")
        for kind in kinds:
            if kind.name in self._kinds:
                raise RuntimeError(f"kind {kind.name} registered twice ({module})")
            self._kinds[kind.name] = kind
        self._loaded.add(module)

    def _table(self) -> dict[str, Kind]:
        if self._ordered is None:
            for module in self._modules:
                if module not in self._loaded:
                    self._load(module)
            ordered = {name: self._kinds[name] for names in self._modules.values() for name in names}
            self._ordered = {**ordered, **{n: k for n, k in self._kinds.items() if n not in ordered}}
        return self._ordered

    def register(self, kind: Kind) -> None:
        """Add a kind at run time (tests, plugins)."""
        self._kinds[kind.name] = kind
        self._ordered = None
        self._readers = None

    def get(self, name: str) -> Kind | None:
        kind = self._kinds.get(name)
        if kind is None and (module := self._owner.get(name)) is not None and module not in self._loaded:
            self._load(module)
            kind = self._kinds.get(name)
        return kind

    def find(self, text: str) -> Kind | None:
        """The kind a person means: `ImagePolicy`, `imagepolicy`, `imagepolicies`, `policies`..."""
        if text in self._owner or text in self._kinds:
            return self.get(text)
        wanted = text.lower()
        return next((k for k in self._table().values() if wanted in k.names()), None)

    def all(self) -> list[Kind]:
        return list(self._table().values())

    def reconciled(self) -> list[Kind]:
        """Reconciled kinds in dependency order."""
        return sorted((k for k in self._table().values() if k.reconciled), key=lambda k: k.order)

    def reconciled_names(self) -> frozenset[str]:
        return frozenset(k.name for k in self.reconciled())

    def readers_of(self, source: ObjectSource, key: ObjectKey) -> list[ObjectKey]:
        """The objects whose kind `reads` names `key`: run after `key`'s output changed.

        The index (read key → readers) is built once per configuration: a daemon with 10,000 objects
        asks this after every changed result, and a scan of all objects each time was quadratic."""
        objects = source.objects
        if self._readers is None or self._readers[0] is not objects:
            readers = {}  # only the kinds present: asking every kind would import every engine
            for name in {reader_key[0] for reader_key in objects}:
                kind = self.get(name)
                if kind is not None and kind.reads is not None:
                    readers[name] = kind.reads
            index: dict[ObjectKey, list[ObjectKey]] = {}
            for reader_key, obj in objects.items():
                reads = readers.get(reader_key[0])
                for read in reads(obj) if reads is not None else ():
                    index.setdefault(read, []).append(reader_key)
            self._readers = (objects, index)
        return sorted(self._readers[1].get(key, ()))

    def view(self, source: ObjectSource, store: StatusStore, obj: Any) -> dict[str, Any]:
        """`{"kind", "namespace", "name", "spec", "status", "suspended"}` of any object, status from the
        store: what `get -o json` and the API print."""
        from tagpilot.engine.status import is_suspended, object_view

        kind = self.get(obj.kind)
        stored = store.get_object(*obj.key)
        status = dict(stored.status) if stored else {}
        if kind is not None and kind.observe is not None:
            status = {**kind.observe(source, obj), **status}
        view = object_view(obj, status)
        view["suspended"] = is_suspended(obj, store)
        return view

    def webhook_targets(self) -> frozenset[str]:
        return frozenset(k.name for k in self._table().values() if k.webhook_target)

    def normalize(self, key: ObjectKey) -> ObjectKey:
        """`(alias, ns, name)` → `(Kind, ns, name)`; unknown kinds pass through unchanged."""
        kind = self.find(key[0])
        return (kind.name, key[1], key[2]) if kind else key


KINDS = KindRegistry()


def same_namespace_ref(owner_namespace: str, ref_namespace: str | None, ref_name: str) -> tuple[str, str]:
    """`(namespace, name)` of a reference whose namespace defaults to its owner's (Flux's rule)."""
    return (ref_namespace or owner_namespace, ref_name)
