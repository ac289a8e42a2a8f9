"""The compiled methods of dataclasses, kept between processes like bytecode, so imports do not compile them.

`@dataclass` writes each class's `__init__`, `__repr__`, `__eq__` (and `__hash__`, `__setattr__`,
`__delattr__` when frozen) as Python source and compiles it, one `compile()` per method, every time
the module is imported: a `tagpilot reconcile` imports ~170 dataclasses (ours, pydantic's,
annotated_types', h11's and h2's) with ~730 such methods, ~60 ms of its ~260 ms of imports. The
source of a method is a pure function of the class's shape, so its code object is kept here under that
source text: a later process executes the stored code object instead of compiling the same text again,
and gets the very function `dataclasses` would have made.

The store follows Python's own rules for bytecode: a file in the package's `__pycache__` (or under
`sys.pycache_prefix`), headed by the interpreter's version, written atomically and only when
`sys.dont_write_bytecode` (PYTHONDONTWRITEBYTECODE) is not set; one that cannot be read, is for
another interpreter or cannot be written is ignored, as an unusable .pyc is. `python -m
tagpilot.precompile` fills it for every module of the package whatever PYTHONDONTWRITEBYTECODE says,
as `compileall` does (`make install` and the benchmarks run it).

Only CPython 3.11 and 3.12 build methods this way (`dataclasses._create_fn`; 3.13 compiles one text
per class through another helper): `install` recognises that function by its variables and does
nothing on any other.
"""

from __future__ import annotations

import atexit
import dataclasses
import marshal
import os
import sys
from collections.abc import Callable
from types import CodeType
from typing import Any

_FORMAT = b"tagpilot dataclass methods 2\n"
_HEADER = _FORMAT + sys.version.encode() + b"\n"  # the interpreter's build: marshal's format and the compiler
_FILE = f"dataclass-methods.{sys.implementation.cache_tag}.bin"
# dataclasses._create_fn's parameters on 3.11 and 3.12, the signature `_create_fn` below reproduces
_KNOWN_PARAMETERS = ("name", "args", "body", "globals", "locals", "return_type")

# The store holds one section per module that defines dataclasses: {method source text: code}, each
# unmarshalled when that module first builds a method (a command imports ~60 % of them).
_sections: dict[str, bytes] = {}  # module name -> its marshalled section, as read and not yet needed
_tables: dict[str, dict[str, CodeType]] = {}  # module name -> its section, in use by this process
_used: dict[str, set[str]] = {}  # module name -> the texts this process built
_compiled: set[str] = set()  # modules for which this process compiled a text the store did not hold
_path = [""]


def cache_path() -> str:
    """Where the store is: the package's `__pycache__`, mirrored under `sys.pycache_prefix` if set."""
    package = os.path.dirname(os.path.abspath(__file__))
    folder = os.path.join(package, "__pycache__")
    if sys.pycache_prefix:
        folder = os.path.join(sys.pycache_prefix, package.lstrip(os.sep))
    return os.path.join(folder, _FILE)


def _read_sections(path: str) -> dict[str, bytes]:
    """The stored sections, or none when the file is missing, damaged or another interpreter's."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return {}
    if not data.startswith(_HEADER):
        return {}
    try:
        sections = marshal.loads(data[len(_HEADER):])
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(sections, dict):
        return {}
    return {name: raw for name, raw in sections.items() if isinstance(name, str) and isinstance(raw, bytes)}


def _table(module: str) -> dict[str, CodeType]:
    table = _tables.get(module)
    if table is None:
        table = {}
        raw = _sections.pop(module, None)
        if raw is not None:
            try:
                loaded = marshal.loads(raw)
            except (EOFError, ValueError, TypeError):
                loaded = None
            if isinstance(loaded, dict):
                table = {text: code for text, code in loaded.items()
                         if isinstance(text, str) and isinstance(code, CodeType)}
        _tables[module] = table
    return table


def save(*, force: bool = False) -> bool:
    """Write the store if this process compiled a method it did not hold (always with `force`);
    True when written. A module's section is rewritten with the methods this process built for it
    (so the texts of classes since changed drop out), any other section is kept as it was. Never
    raises for the file: a store that cannot be written only leaves the next process slower."""
    path = _path[0]
    if not path or not (force or _compiled) or (sys.dont_write_bytecode and not force):
        return False
    sections = dict(_sections)
    for module, table in _tables.items():
        keep = table if module not in _compiled else {text: table[text] for text in _used.get(module, ())}
        if keep:
            sections[module] = marshal.dumps(keep)
    import tempfile  # ~2 ms of imports, only for a process that writes

    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".dataclass-methods.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_HEADER + marshal.dumps(sections))
            os.chmod(temporary, os.stat(__file__).st_mode & 0o666)  # readable as this module's .pyc is
            os.replace(temporary, path)  # a concurrent process reads the old file or this one, never half
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, ValueError):
        return False
    _compiled.clear()
    return True


def _create_fn(name: str, args: list[str], body: list[str], *, globals: dict[str, Any] | None = None,
               locals: dict[str, Any] | None = None, return_type: Any = dataclasses.MISSING) -> Any:
    """`dataclasses._create_fn` of CPython 3.11/3.12, line for line, with the compiled text looked up
    first. `compile(..., dont_inherit=True)` compiles exactly as the stdlib's `exec(text)` does: the
    dataclasses module has no `from __future__` import, and this one's must not leak into the methods."""
    if locals is None:
        locals = {}
    return_annotation = ""
    if return_type is not dataclasses.MISSING:
        locals["_return_type"] = return_type
        return_annotation = "->_return_type"
    arguments = ",".join(args)
    lines = "\n".join(f"  {b}" for b in body)
    text = f" def {name}({arguments}){return_annotation}:\n{lines}"
    local_vars = ", ".join(locals.keys())
    text = f"def __create_fn__({local_vars}):\n{text}\n return {name}"
    module = globals.get("__name__", "") if globals else ""
    table = _table(module)
    code = table.get(text)
    if code is None:
        code = table[text] = compile(text, "<string>", "exec", dont_inherit=True)
        _compiled.add(module)
    _used.setdefault(module, set()).add(text)
    namespace: dict[str, Any] = {}
    # where the stdlib's `exec(text, None, ...)` would run: in the dataclasses module (no caller passes None)
    exec(code, vars(dataclasses) if globals is None else globals, namespace)
    return namespace["__create_fn__"](**locals)


def _recognised(function: Callable[..., Any] | None) -> bool:
    code = getattr(function, "__code__", None)
    return (code is not None and code.co_varnames[:len(_KNOWN_PARAMETERS)] == _KNOWN_PARAMETERS
            and code.co_kwonlyargcount == 3 and "exec" in code.co_names)


def install() -> bool:
    """Route dataclasses' method building through the store (once per process); False when this
    Python builds methods some other way and nothing was changed."""
    if dataclasses.__dict__.get("_create_fn") is _create_fn:
        return True
    if not _recognised(dataclasses.__dict__.get("_create_fn")):
        return False
    _path[0] = cache_path()
    _sections.update(_read_sections(_path[0]))
    dataclasses._create_fn = _create_fn  # type: ignore[attr-defined]
    atexit.register(save)
    return True


def prime() -> int:
    """Import every module of tagpilot and write the store they fill; the exit code."""
    import importlib
    import pkgutil

    import tagpilot

    if not install():
        print(f"dataclass methods: Python {sys.version.split()[0]} builds them its own way; nothing to store")
        return 0
    failed = []
    for module in pkgutil.walk_packages(tagpilot.__path__, "tagpilot."):
        try:
            importlib.import_module(module.name)
        except ImportError as exc:  # an optional dependency that is not installed: its classes are not stored
            failed.append(f"{module.name} ({exc})")
    if not save(force=True):
        print(f"warning: could not write {_path[0]}", file=sys.stderr)
        return 1
    methods = sum(len(texts) for texts in _used.values())
    print(f"dataclass methods: {methods} of {len(_used)} modules in {_path[0]}")
    for name in failed:
        print(f"note: not imported: {name}", file=sys.stderr)
    return 0
