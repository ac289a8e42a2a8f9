"""Reading configuration files into documents that remember where every field came from.

Users hand tagpilot the same YAML they would `kubectl apply`: files or directories, many documents per
file. Errors must name the file and line of the offending field, so each document keeps an index from
field path (`("spec", "interval")`) to its 1-based line, built from PyYAML's node marks while the
document is constructed (one parse, no second pass over the text).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tagpilot.errors import ConfigError, ConfigErrors, Location

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG  # tag:yaml.org,2002:str
YAML_SUFFIXES = (".yaml", ".yml")
Path_ = tuple[str | int, ...]

# YAML 1.1's printable set, which libyaml's and PyYAML's readers enforce (C0 controls other than tab,
# LF and CR, DEL, C1 controls other than NEL, surrogates, U+FFFE/U+FFFF). Checked here first so the
# error names the line and column, not a character offset in "<unicode string>".
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # what YAML counts as a line break


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, with constructor failures as YAML errors that carry the node's position.

    PyYAML's constructors raise bare ValueErrors for scalars that look like a type but are not one
    (`when: 2024-13-45` resolves as a timestamp; `!!int abc`); without a mark they would reach the
    user as a traceback. The innermost failing node wraps the error, so the line is the value's own.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag == _STR_TAG and node.__class__ is yaml.ScalarNode:
            # most nodes of a manifest: what the str constructor returns, without its bookkeeping
            # (~40 % of the construction time of a configuration)
            return node.value
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            tag = node.tag.rsplit(":", 1)[-1] if node.tag else "value"
            value = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid {tag}{value}: {exc}; quote the value to keep it a string", node.start_mark
            ) from None


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character `offset` in `text`, counting line breaks as YAML does."""
    offset = max(0, min(offset, len(text)))
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, match.end()
    return line, offset - start + 1


def _character_error(text: str, offset: int, file: str) -> ConfigError:
    code = ord(text[offset]) if offset < len(text) else 0
    line, column = position(text, offset)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        message = (f"control character U+{code:04X} not allowed in YAML; remove it (a string that needs it can "
                   f"write it as the escape \\x{code:02x} inside double quotes)")
    else:
        message = f"character U+{code:04X} not allowed in YAML; remove it"
    return ConfigError(message, Location(file=file, line=line, column=column))


def check_characters(text: str, file: str) -> None:
    """Refuse the first character YAML does not allow, naming its line and column."""
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        raise _character_error(text, bad.start(), file)


@dataclass
class Document:
    """One YAML document of a configuration file, with the line of every field."""

    file: str
    line: int  # line of the document's first node
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Iterable[str | int]) -> int:
        """The line of the deepest known prefix of `path` (a missing field points at its parent)."""
        parts = tuple(path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.line

    def location(self, path: Iterable[str | int] = (), obj: str | None = None) -> Location:
        parts = tuple(path)
        dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in parts).replace(".[", "[")
        return Location(file=self.file, line=self.line_of(parts), obj=obj, field=dotted or None)


MAX_DEPTH = 1000  # Kubernetes objects nest a dozen levels; far deeper is an error, not a reason to crash
MAX_EXPANDED_NODES = 1_000_000  # what a document may grow to once its aliases are expanded


def check_structure(text: str, file: str) -> None:
    """Refuse hostile structure before anything builds it: nesting deeper than MAX_DEPTH (PyYAML's
    composer recurses per level and crashes deep down) and alias bombs ("billion laughs": a few
    aliases that expand to billions of nodes). Works on libyaml's event stream, which needs no
    recursion; the expanded size of every anchor is tracked so an alias costs what it expands to."""
    anchor_sizes: dict[str, int] = {}
    stack: list[tuple[int, str | None, int]] = []  # (size so far, anchor, line) per open collection
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise ConfigError(f"nesting deeper than {MAX_DEPTH} levels", Location(file=file, line=line))
            stack.append((1, event.anchor, line or 0))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            size, anchor, _ = stack.pop()
        elif isinstance(event, yaml.AliasEvent):
            size, anchor = anchor_sizes.get(event.anchor, 1), None
        elif isinstance(event, yaml.ScalarEvent):
            size, anchor = 1, event.anchor
        else:
            if isinstance(event, yaml.DocumentStartEvent):
                total = 0
            continue
        if anchor:
            anchor_sizes[anchor] = size
        if stack:
            parent_size, parent_anchor, parent_line = stack[-1]
            stack[-1] = (parent_size + size, parent_anchor, parent_line)
        else:
            total += size
        if total + sum(entry[0] for entry in stack) > MAX_EXPANDED_NODES:
            raise ConfigError(f"excessive aliasing: the document would expand to more than {MAX_EXPANDED_NODES}"
                              " nodes", Location(file=file, line=line))


def needs_structure_check(text: str) -> bool:
    """False when `check_structure` cannot find anything, so its pass over every event (half of
    loading 2,000 objects) is skipped: without `&` there is no anchor, so no alias expands; and the
    nesting is bounded by the flow brackets plus twice the longest line (a block collection nested in
    another is indented further, one column per level, or two for `- `/`? ` on one line)."""
    if "&" in text:
        return True
    longest = max(map(len, text.split("\n")), default=0)
    return text.count("[") + text.count("{") + 2 * longest + 2 >= MAX_DEPTH


def _index_lines(root: yaml.Node, out: dict[Path_, int], file: str) -> None:
    """Record the line of every field path; each node is visited once (aliases are not re-walked).
    Duplicate mapping keys are errors, as in Kubernetes' strict decoding."""
    seen: set[int] = set()
    todo: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while todo:
        node, path = todo.pop()
        out.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                line = key_node.start_mark.line + 1
                if key_node.value in keys and key_node.value != "<<":
                    raise ConfigError(f"mapping key {key_node.value!r} already defined at line {keys[key_node.value]}",
                                      Location(file=file, line=line))
                keys[key_node.value] = line
                # the key's line is more useful than the value's for error messages
                out[(*path, key_node.value)] = line
                todo.append((value_node, (*path, key_node.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                todo.append((item, (*path, index)))


def read_documents(text: str, file: str) -> Iterator[Document]:
    """Yield the non-empty documents of one YAML text. A syntax error raises ConfigError with file:line;
    no YAML error escapes as anything else."""
    check_characters(text, file)
    if needs_structure_check(text):
        with contextlib.suppress(yaml.YAMLError):  # a syntax error: the loader below reports its line
            check_structure(text, file)
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            lines: dict[Path_, int] = {}
            _index_lines(node, lines, file)
            yield Document(file=file, line=node.start_mark.line + 1, data=data, lines=lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", Location(file=file, line=line)) from None
    except yaml.reader.ReaderError as exc:
        raise _character_error(text, exc.position, file) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", Location(file=file)) from None
    finally:
        loader.dispose()


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named on the command line, and every `*.yaml`/`*.yml` under named directories, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix in YAML_SUFFIXES and ".git" not in p.parts
            )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError("no such file or directory", Location(file=str(path)))
    return files


def iter_documents(paths: Iterable[str | Path], errors: list[ConfigError]) -> Iterator[Document]:
    """Every document of every file, one at a time (a caller that validates each as it comes holds
    one document's data and line index, not 20,000 of them); files that cannot be read or parsed
    are reported in `errors` (a file's documents before its syntax error are still yielded)."""
    for file in expand_paths(paths):
        try:
            raw = file.read_bytes()
        except OSError as exc:
            errors.append(ConfigError(f"cannot read file: {exc.strerror or exc}", Location(file=str(file))))
            continue
        try:
            text = raw.decode("utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", "replace")) + 1
            errors.append(ConfigError(f"cannot read file: not UTF-8 (byte 0x{raw[exc.start]:02x}); save it as "
                                      "UTF-8", Location(file=str(file), line=line, column=column)))
            continue
        del raw
        try:
            yield from read_documents(text, str(file))
        except ConfigError as exc:
            errors.append(exc)


def raise_errors(errors: list[ConfigError]) -> None:
    """Raise the collected errors: the one, or all of them together."""
    if errors:
        raise ConfigErrors(errors) if len(errors) > 1 else errors[0]


def load_documents(paths: Iterable[str | Path]) -> list[Document]:
    """Read every document of every file; all syntax errors are collected before raising."""
    errors: list[ConfigError] = []
    documents = list(iter_documents(paths, errors))
    raise_errors(errors)
    return documents
