"""The store of compiled dataclass methods (`tagpilot.dataclass_code`): the same classes, fewer compiles.

Each case runs a fresh interpreter (the store is read once per process, at `import tagpilot`) with
PYTHONPYCACHEPREFIX pointing into the test's temporary directory, so the store it reads and writes is
the test's own and the package's `__pycache__` is never touched.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tagpilot import dataclass_code

pytestmark = pytest.mark.skipif(dataclasses.__dict__.get("_create_fn") is not dataclass_code._create_fn,
                                reason="this Python builds dataclass methods its own way (3.13 and later)")

# Builds two dataclasses in a module `shapes` of its own, then prints what the store did and what the
# classes are: enough to tell a method from the store from one compiled here.
PROBE = textwrap.dedent('''
    import json, sys, types
    import tagpilot
    from tagpilot import dataclass_code
    import dataclasses

    source = sys.argv[1]
    shapes = types.ModuleType("shapes")
    sys.modules["shapes"] = shapes
    exec(compile(source, "shapes.py", "exec"), shapes.__dict__)
    Point, Frozen = shapes.Point, shapes.Frozen
    p = Point(1, 2)
    f = Frozen("a")
    try:
        f.name = "b"
        frozen = False
    except dataclasses.FrozenInstanceError:
        frozen = True
    print(json.dumps({
        "installed": dataclasses._create_fn is dataclass_code._create_fn,
        "compiled": sorted(dataclass_code._compiled),
        "shapes_texts": len(dataclass_code._used.get("shapes", ())),
        "repr": repr(p), "eq": p == Point(1, 2), "ne": p != Point(2, 1), "hash": hash(f) == hash(Frozen("a")),
        "frozen": frozen, "default": Point(5).y,
        "init_return": repr(Point.__init__.__annotations__.get("return")),
        "init_annotations": sorted(Point.__init__.__annotations__),
    }))
''')

SHAPES = textwrap.dedent('''
    from dataclasses import dataclass, field

    @dataclass
    class Point:
        x: int
        y: int = field(default=7)

    @dataclass(frozen=True)
    class Frozen:
        name: str
''')


def _probe(tmp_path: Path, source: str = SHAPES, *, write: bool = True) -> dict[str, object]:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "prefix")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run([sys.executable, "-c", PROBE, source], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _store(tmp_path: Path) -> Path:
    folder = Path(dataclass_code.__file__).resolve().parent
    return tmp_path / "prefix" / str(folder).lstrip(os.sep) / dataclass_code._FILE


def test_second_process_compiles_nothing_and_gets_the_same_classes(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first["installed"] is True
    assert "shapes" in first["compiled"]  # nothing stored yet: compiled here, then written at exit
    assert _store(tmp_path).is_file()
    second = _probe(tmp_path)
    assert second["compiled"] == []  # every method of every dataclass came from the store
    assert second["shapes_texts"] == first["shapes_texts"] > 0
    for key in ("repr", "eq", "ne", "hash", "frozen", "default", "init_return", "init_annotations"):
        assert second[key] == first[key], key
    assert second["repr"] == "Point(x=1, y=2)" and second["default"] == 7 and second["frozen"] is True
    # compiled as the stdlib compiles it: this module's `from __future__ import annotations` must not leak
    # into the methods, or __init__'s return annotation would be the string '_return_type'
    assert second["init_return"] == "None"


def test_no_store_written_when_bytecode_writing_is_off(tmp_path: Path) -> None:
    result = _probe(tmp_path, write=False)
    assert "shapes" in result["compiled"]
    assert not _store(tmp_path).exists()


def test_damaged_or_foreign_store_is_ignored_and_replaced(tmp_path: Path) -> None:
    _probe(tmp_path)
    store = _store(tmp_path)
    good = store.read_bytes()
    for damaged in (b"garbage", good[: len(good) // 2], good.replace(sys.version.encode(), b"3.0.0 (other)", 1)):
        store.write_bytes(damaged)
        result = _probe(tmp_path)
        assert "shapes" in result["compiled"]  # nothing usable was read: compiled again, no error
        assert result["repr"] == "Point(x=1, y=2)"
        assert store.read_bytes().startswith(dataclass_code._HEADER)  # and a good store written back


def test_a_changed_class_drops_its_old_methods(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    changed = SHAPES.replace("y: int = field(default=7)", "y: int = field(default=7)\n    z: int = 0")
    second = _probe(tmp_path, changed)
    assert "shapes" in second["compiled"]
    assert second["repr"] == "Point(x=1, y=2, z=0)"
    third = _probe(tmp_path, changed)
    assert third["compiled"] == []
    # the section of `shapes` holds exactly what the changed module builds, not the old Point's texts too
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "prefix")}
    count = subprocess.run(
        [sys.executable, "-c", "from tagpilot import dataclass_code as d; print(len(d._table('shapes')))"],
        env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    assert int(count) == third["shapes_texts"] == first["shapes_texts"]


def test_unknown_builder_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def _create_fn(name, args, body):  # type: ignore[no-untyped-def]  # some other Python's shape
        return None

    monkeypatch.setattr(dataclasses, "_create_fn", _create_fn)
    assert dataclass_code.install() is False
    assert dataclasses._create_fn is _create_fn


def test_precompile_writes_bytecode_and_the_store(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp_path / "prefix"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "tagpilot.precompile"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "dataclass methods:" in proc.stdout
    store = _store(tmp_path)
    assert store.is_file()  # written although PYTHONDONTWRITEBYTECODE is set, as compileall does
    package = Path(dataclass_code.__file__).resolve().parent
    assert list((tmp_path / "prefix" / str(package).lstrip(os.sep)).glob("*.cpython-*.pyc"))
    # a command in a fresh process then compiles no dataclass method of tagpilot's
    check = subprocess.run(
        [sys.executable, "-c", "import tagpilot.cli.reconcile, tagpilot.engine.local, tagpilot.gitops.commit_data;"
         "from tagpilot import dataclass_code as d; print(sorted(m for m in d._compiled if m.startswith('tagpilot')))"],
        env=env, capture_output=True, text=True, check=True, timeout=120)
    assert check.stdout.strip() == "[]"
