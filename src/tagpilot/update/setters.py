"""Flux "Setters" markers, applied by editing only the characters of the changed values.

Flux runs kyaml's setters2 over whole files and re-serialises them, which drops a leading ``---``,
folds block scalars and re-indents. Here the YAML is only *read* (PyYAML compose, libyaml when
available) to learn where each scalar is; the new value is then spliced into the original text, so
every byte outside the edited spans stays as it was (quotes, comments, CRLF, BOM, final newline,
anchors, non-ASCII text).

What counts as a marker, as in kyaml's ``fieldmeta`` with Flux's ``$imagepolicy`` shorthand:
- the trailing comment on the line where a scalar *value* ends (mapping values and sequence items,
  never mapping keys); everything after the leading ``#``s must be a JSON object of strings whose
  ``$imagepolicy`` entry names ``<namespace>:<policy>`` with an optional ``:tag``, ``:name`` or
  ``:digest`` suffix (the long form ``{"$ref": "#/definitions/io.k8s.cli.setters.<same>"}`` too);
- a marker naming a policy not in the given mapping (unknown, or in another namespace than the
  automation's) is ignored, exactly like Flux.

Deliberate differences, reported as `Notice`s rather than silently done: a marker on a block scalar
(``|``/``>``) is not applied (Flux would fold it into a one-line string; we do not rewrite block
structure), nor one on a scalar with an explicit non-string tag. Head comments (a marker on the line
*above* a sequence item, which yaml.v3 would also attach) are not read.

Marks: PyYAML counts characters of the decoded text (CRLF is two, like the text itself); libyaml
skips a leading BOM without counting it, so the BOM is cut off before parsing and added back to every
offset. Every rewrite is read back: each new value's source is parsed where it stands (block or flow
context, a marker comment after it) and must read as exactly one scalar with the policy's value and
the string tag; a scalar that reads so leaves every other token of the file as it was, so what the
output holds is derived from what the input held (`_derive`), and the output is parsed whole only
where that argument does not apply (`_derive` lists where: a value spanning lines or at a line's
start, a tag or anchor, an edit of the document's own kind or name...).
"""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import yaml

from tagpilot.errors import UpdateError
from tagpilot.update import quoting
from tagpilot.update.model import Change, ImageRef, Notice, ObjectId

if TYPE_CHECKING:
    from tagpilot.update.scanmemo import ScanMemo

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> its resolved tag (a pure function of the text)
_PLAIN_TAGS_MAX = 50_000


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with tag resolution memoized: `resolve` runs in Python for every scalar of
    every file (a third of a compose), and a plain scalar's tag depends on its text alone while no
    path resolver is registered, which none of ours are. A file's keys and values recur across a
    tree, so most lookups hit."""

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is not yaml.ScalarNode or not implicit[0] or self.yaml_path_resolvers or value is None:
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_PLAIN_TAGS) >= _PLAIN_TAGS_MAX:
                _PLAIN_TAGS.clear()
            _PLAIN_TAGS[value] = tag
        return tag

MARKER_TOKEN = '"$imagepolicy"'
_SHORTHAND = "$imagepolicy"
_REF_PREFIX = "#/definitions/io.k8s.cli.setters."
_FIELDS = ("tag", "name", "digest")
# PyYAML's line breaks (YAML 1.1): a comment ends at any of them.
_BREAKS = "\r\n\x85\u2028\u2029"


@dataclass(frozen=True)
class Marker:
    """A parsed marker: policy namespace and name, and which part of the image it sets ('' = all)."""

    namespace: str
    name: str
    field: str
    text: str  # the setter string as written, e.g. "flux-system:app:tag"


@dataclass(frozen=True)
class Site:
    """A scalar value carrying a marker: where its source text is and how it is written."""

    start: int  # source span of the value itself (after any anchor/tag), in characters
    end: int
    style: str  # '' plain, "'", '"', '|', '>'
    value: str
    tag: str
    explicit_tag: str | None
    flow: bool
    marker: Marker
    obj: ObjectId | None


ScanItem = Site | tuple[int, Marker, str]  # what `scan` yields: a rewritable value, or (line, marker, why not)


@dataclass(frozen=True)
class Rewrite:
    """What `rewrite` did to one text: the new text, the changes, and markers it chose not to apply."""

    text: str
    changes: tuple[Change, ...]
    notices: tuple[Notice, ...]
    unmatched: tuple[Notice, ...] = ()  # markers naming a policy that is not in `policies`
    named: frozenset[tuple[str, str]] = frozenset()  # every (namespace, name) a marker names


def parse_marker(comment: str) -> Marker | None:
    """Read a comment's text (after the ``#``) as a setters marker; None when it is not one.

    Mirrors kyaml: leading ``#``s are trimmed, the rest must unmarshal as a Go ``map[string]string``
    (so every value must be a JSON string), and the ``$imagepolicy`` entry must be non-empty.
    """
    body = comment.lstrip("#")
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    setter = data.get(_SHORTHAND, "")
    if not setter:
        ref = data.get("$ref", "")
        if not ref.startswith(_REF_PREFIX):
            return None
        setter = ref[len(_REF_PREFIX) :]
    parts = setter.split(":")
    if len(parts) == 2:
        field = ""
    elif len(parts) == 3 and parts[2] in _FIELDS:
        field = parts[2]
    else:
        return None
    if not parts[0] or not parts[1]:
        return None
    return Marker(namespace=parts[0], name=parts[1], field=field, text=setter)


def _line_end(text: str, pos: int) -> int:
    """Index of the first line break at or after `pos` (or the end of the text)."""
    end = len(text)
    for br in _BREAKS:
        i = text.find(br, pos, end)
        if i != -1:
            end = i
    return end


def _trailing_comment(text: str, pos: int) -> str | None:
    """The comment that follows `pos` on the same line after at least one blank, else None."""
    end = _line_end(text, pos)
    i = pos
    while i < end and text[i] in " \t":
        i += 1
    if i == pos or i >= end or text[i] != "#":
        return None
    return text[i + 1 : end]


def line_of(text: str, pos: int) -> int:
    """1-based line number of `pos`, counting CRLF as one break like YAML does."""
    head = text[:pos]
    breaks = head.count("\n") + head.count("\r") - head.count("\r\n")
    return breaks + sum(head.count(b) for b in "\x85\u2028\u2029") + 1


class _Lines:
    """`line_of` for positions asked in increasing order, counting only the text since the last one: a
    file with thousands of markers would otherwise be scanned from its start for each (quadratic)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1

    def of(self, pos: int) -> int:
        if pos < self._pos:
            return line_of(self._text, pos)
        self._line += line_of(self._text[self._pos:pos], pos - self._pos) - 1  # pos never splits a CRLF
        self._pos = pos
        return self._line


def _skip_properties(text: str, start: int, end: int) -> tuple[int, str | None]:
    """Skip an anchor (``&a``) and/or tag (``!!str``) before a scalar; return value start and the tag."""
    i = start
    tag = None
    while i < end and text[i] in "&!":
        j = i
        while j < end and text[j] not in " \t" + _BREAKS:
            j += 1
        if text[i] == "!":
            tag = text[i:j]
        i = j
        while i < end:
            if text[i] in " \t" + _BREAKS:
                i += 1
            elif text[i] == "#":
                i = _line_end(text, i)
            else:
                break
    return i, tag


def _object_id(root: yaml.Node) -> ObjectId | None:
    """kind/apiVersion/metadata.name/metadata.namespace of a document, for commit templates."""
    if not isinstance(root, yaml.MappingNode):
        return None

    def scalars(node: yaml.MappingNode) -> dict[str, yaml.Node]:
        return {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}

    top = scalars(root)

    def text(node: yaml.Node | None) -> str:
        return node.value if isinstance(node, yaml.ScalarNode) else ""

    meta = top.get("metadata")
    meta_fields = scalars(meta) if isinstance(meta, yaml.MappingNode) else {}
    oid = ObjectId(
        kind=text(top.get("kind")),
        api_version=text(top.get("apiVersion")),
        name=text(meta_fields.get("name")),
        namespace=text(meta_fields.get("namespace")),
    )
    return oid if oid != ObjectId() else None


def _compose(text: str, filename: str) -> tuple[list[yaml.Node], int]:
    """Parse every document; return the roots and the offset to add to marks (1 after a BOM)."""
    offset = 1 if text.startswith("\ufeff") else 0
    try:
        roots = [r for r in yaml.compose_all(text[offset:], Loader=_Loader) if r is not None]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "invalid YAML"
        raise UpdateError(f"{filename}{line}: cannot parse YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise UpdateError(f"{filename}: cannot parse YAML: {e}") from None
    return roots, offset


def _check_duplicate_keys(node: yaml.MappingNode, text: str, offset: int, filename: str) -> None:
    """Reject duplicate keys as yaml.v3 (and so Flux) does: such a file is reported, not rewritten."""
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode):
            ident = (key.tag, key.value)
            if ident in seen:
                line = line_of(text, key.start_mark.index + offset)
                raise UpdateError(f"{filename}:{line}: cannot parse YAML: mapping key {key.value!r} already defined")
            seen.add(ident)


def scan(text: str, *, filename: str = "<text>") -> Iterator[ScanItem]:
    """Every marked scalar value of `text`, in document order.

    Yields a `Site` for a value that can be rewritten, or ``(line, marker, reason)`` for a marked
    value that will not be (block scalar). Raises `UpdateError` when the text does not parse.
    """
    roots, offset = _compose(text, filename)
    for root in roots:
        obj = _object_id(root)
        seen: set[int] = set()
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        items: list[tuple[yaml.ScalarNode, bool]] = []
        while stack:
            node, flow = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                if node is not root:
                    items.append((node, flow))
            elif isinstance(node, yaml.MappingNode):
                _check_duplicate_keys(node, text, offset, filename)
                inner = flow or bool(node.flow_style)
                stack.extend((v, inner) for _, v in reversed(node.value))
            elif isinstance(node, yaml.SequenceNode):
                inner = flow or bool(node.flow_style)
                stack.extend((v, inner) for v in reversed(node.value))
        for node, flow in items:
            found = _site(text, node, flow, offset, obj)
            if found is not None:
                yield found


def _site(
    text: str, node: yaml.ScalarNode, flow: bool, offset: int, obj: ObjectId | None
) -> Site | tuple[int, Marker, str] | None:
    start, end = node.start_mark.index + offset, node.end_mark.index + offset
    style = node.style or ""
    if style in ("|", ">"):
        value_start, tag = _skip_properties(text, start, end)
        # The marker sits on the header line: `key: |-  # {...}`.
        j = value_start + 1
        while j < end and text[j] in "+-0123456789":
            j += 1
        comment = _trailing_comment(text, j)
        marker = parse_marker(comment) if comment is not None else None
        if marker is None:
            return None
        reason = "marker on a block scalar (| or >): not rewritten, use a plain or quoted value"
        return (line_of(text, value_start), marker, reason)
    if end >= len(text) or text[end] not in " \t":  # no blank after the value: no trailing comment
        return None
    comment = _trailing_comment(text, end)
    if comment is None:
        return None
    marker = parse_marker(comment)
    if marker is None:
        return None
    value_start, tag = _skip_properties(text, start, end)
    return Site(
        start=value_start,
        end=end,
        style=style,
        value=node.value,
        tag=node.tag,
        explicit_tag=tag,
        flow=flow,
        marker=marker,
        obj=obj,
    )


def _str_tag(tag: str | None) -> bool:
    return tag in (None, "!!str", "!", f"!<{quoting.STR_TAG}>")


def _scan_all(text: str, filename: str, memo: ScanMemo | None) -> tuple[ScanItem, ...]:
    """Everything `scan` finds in `text`: from `memo` when it has seen the text and its entry still
    fits the text (`_fits`), else parsed (and put into the memo)."""
    items = memo.get(text) if memo is not None else None
    if items is None or not _fits(text, items):
        items = tuple(scan(text, filename=filename))
        if memo is not None:
            memo.put(text, items)
    return items


def _marker_count(text: str) -> int:
    """How many markers `text` could hold: one per ``$imagepolicy`` or setters ``$ref`` it contains."""
    return text.count(_SHORTHAND) + text.count(_REF_PREFIX)


def _has_break(text: str) -> bool:
    return any(br in text for br in _BREAKS)


def _starts_line(text: str, pos: int) -> bool:
    """Whether `pos` is at column 0 (after a BOM at the very start too)."""
    before = text[:pos].lstrip("\ufeff") if pos <= 1 else text[pos - 1]
    return not before or before in _BREAKS


def _line_text(text: str, line: int) -> str | None:
    """The text of 1-based `line` (CRLF one break, as `line_of` counts), None past the end."""
    pos = 0
    for _ in range(line - 1):
        end = _line_end(text, pos)
        if end >= len(text):
            return None
        pos = end + (2 if text.startswith("\r\n", end) else 1)
    return text[pos:_line_end(text, pos)]


def _block_header_with(line: str | None, marker: Marker) -> bool:
    """Whether `line` is a block scalar's header carrying `marker`: ``key: |-  # {...}``."""
    at = line.find(marker.text) if line is not None else -1
    comment = line.rfind("#", 0, at) if line is not None and at >= 0 else -1
    return line is not None and comment > 0 and line[:comment].rstrip(" \t").rstrip("+-0123456789").endswith(("|", ">"))


def _fits(text: str, items: tuple[ScanItem, ...]) -> bool:
    """Whether remembered scan `items` can be those of `text`, checked without parsing it: every marker
    of the text is accounted for, and every site's span reads back (`quoting.read_scalar`) as the
    remembered scalar followed by its marker. A memo entry that fails is not used: the text is parsed."""
    if _marker_count(text) != len(items):
        return False
    for item in items:
        if isinstance(item, Site):
            if not 0 <= item.start <= item.end < len(text) or text[item.end] not in " \t":
                return False
            comment = _trailing_comment(text, item.end)
            if comment is None or parse_marker(comment) != item.marker:
                return False
            read = quoting.read_scalar(text[item.start:item.end], flow=item.flow)
            if read != (item.style, item.value, item.tag):
                return False
        else:
            line, marker, _ = item
            if not _block_header_with(_line_text(text, line) if line > 0 else None, marker):
                return False
    return True


@dataclass(frozen=True)
class _Edit:
    """One value being replaced: the site (its index among the text's sites), its new source text, and
    what is inserted before that source (a blank for an empty value: ``image: # marker``)."""

    index: int
    site: Site
    source: str
    lead: str

    @property
    def growth(self) -> int:
        return len(self.lead) + len(self.source) - (self.site.end - self.site.start)


def _derive(text: str, items: tuple[ScanItem, ...], edits: list[_Edit],
            policies: Mapping[tuple[str, str], ImageRef]) -> tuple[ScanItem, ...] | None:
    """What `scan` would find in the rewritten text, worked out from what it found in `text` and the
    edits, without parsing the rewritten text; None when that cannot be certain (the caller parses).

    Each edit replaces one single-line scalar value, which stands before a blank and its marker
    comment, by a new single-line source. When the new source reads as exactly one scalar with the
    policy's value and the string tag (`quoting.read_scalar`, in block or flow context as the site),
    the parser meets the same tokens in the new text as in the old, except for that scalar's: the
    documents, their structure, every other value and every comment are what they were, at offsets
    moved by the edits before them. Not derived (parsed instead) where that argument does not hold:
    - an old value spanning lines (the lines of later items would move);
    - a value at the start of a line: there a new ``---``/``...`` would end the document and a BOM be
      skipped (flow collections may put values there; `read_scalar` sees column 1);
    - an explicit tag, or a ``%TAG`` directive in the text (a tag `read_scalar` does not see; libyaml
      resolves ``! "1.10"`` as a float);
    - an anchor anywhere before the value (an alias of it, even as a mapping key, would change too:
      duplicate keys, another document name);
    - a value the document's kind, apiVersion, name or namespace could be (the `ObjectId` would
      change; all four are empty when it is None)."""
    if "%TAG" in text:
        return None
    first_ampersand = text.find("&")  # an anchor before a value starts with one
    read_back: dict[int, tuple[_Edit, str, str]] = {}  # site index -> edit, new style, new value
    for edit in edits:
        site = edit.site
        if _has_break(text[site.start:site.end]) or _has_break(edit.source) or _starts_line(text, site.start):
            return None
        if site.explicit_tag is not None or 0 <= first_ampersand < site.start:
            return None
        obj = site.obj
        if site.value in ((obj.kind, obj.api_version, obj.name, obj.namespace) if obj is not None else ("",)):
            return None
        want = policies[(site.marker.namespace, site.marker.name)].value_for(site.marker.field)
        read = quoting.read_scalar(edit.source, flow=site.flow)
        if read is None or read[1:] != (want, quoting.STR_TAG):
            return None
        read_back[edit.index] = (edit, read[0], read[1])
    ordered = sorted(edits, key=lambda e: e.site.start)
    starts = [edit.site.start for edit in ordered]
    grown = list(itertools.accumulate((edit.growth for edit in ordered), initial=0))  # before the i-th edit
    derived: list[ScanItem] = []
    index = -1
    for item in items:
        if not isinstance(item, Site):
            derived.append(item)  # a line number: no edit adds or removes a line
            continue
        index += 1
        shift = grown[bisect.bisect_left(starts, item.start)]  # what the edits before it added
        if index not in read_back:
            derived.append(replace(item, start=item.start + shift, end=item.end + shift))
            continue
        edit, style, value = read_back[index]
        start = item.start + shift + len(edit.lead)
        derived.append(replace(item, start=start, end=start + len(edit.source), style=style, value=value,
                               tag=quoting.STR_TAG))
    return tuple(derived)


def rewrite(text: str, policies: Mapping[tuple[str, str], ImageRef], *, filename: str = "<text>",
            memo: ScanMemo | None = None) -> Rewrite:
    """Apply every marker in `text` whose policy is in `policies`; report the ones deliberately skipped.

    `policies` maps ``(namespace, name)`` to the selected image: pass only the policies the automation
    may use (its namespace, its ``policySelector``); markers naming others are ignored, as in Flux.
    `memo` (see `scanmemo`) spares parsing a text some earlier run already parsed or wrote; what the
    rewritten text holds goes into it, so the next run reads this run's output without parsing it.
    """
    edits: list[_Edit] = []
    changes: list[Change] = []
    notices: list[Notice] = []
    unmatched: list[Notice] = []
    named: set[tuple[str, str]] = set()
    sites: list[Site] = []
    items = _scan_all(text, filename, memo)
    lines = _Lines(text)
    for found in items:
        if isinstance(found, tuple):
            line, marker, reason = found
            named.add((marker.namespace, marker.name))
            if (marker.namespace, marker.name) in policies:
                notices.append(Notice(filename, line, marker.text, reason))
            else:
                unmatched.append(Notice(filename, line, marker.text, "no such policy given"))
            continue
        sites.append(found)
        named.add((found.marker.namespace, found.marker.name))
        image = policies.get((found.marker.namespace, found.marker.name))
        line = lines.of(found.start)
        if image is None:
            unmatched.append(Notice(filename, line, found.marker.text, "no such policy given"))
            continue
        new_value = image.value_for(found.marker.field)
        if new_value is None:
            notices.append(Notice(filename, line, found.marker.text, f"the policy's image has no {found.marker.field}"))
            continue
        if not _str_tag(found.explicit_tag):
            notices.append(Notice(filename, line, found.marker.text, f"value has explicit tag {found.explicit_tag}"))
            continue
        if new_value == found.value:  # as Flux: equal text is no change, whatever it resolves to
            continue
        # an empty value (`image: # marker`) gets a blank after the indicator
        edits.append(_Edit(len(sites) - 1, found, quoting.render(new_value, found.style, flow=found.flow),
                           " " if found.start == found.end else ""))
        changes.append(Change(filename, line, found.value, new_value, found.marker.text, found.obj,
                              policy=(found.marker.namespace, found.marker.name), part=found.marker.field))
    if not edits:
        return Rewrite(text, (), tuple(notices), tuple(unmatched), frozenset(named))
    out: list[str] = []
    pos = 0
    for edit in sorted(edits, key=lambda e: e.site.start):
        out.append(text[pos:edit.site.start])
        out.append(edit.lead + edit.source)
        pos = edit.site.end
    out.append(text[pos:])
    new_text = "".join(out)
    _verify(new_text, _derive(text, items, edits, policies), sites, edits, policies, filename, memo)
    return Rewrite(new_text, tuple(changes), tuple(notices), tuple(unmatched), frozenset(named))


def _verify(
    new_text: str,
    derived: tuple[ScanItem, ...] | None,
    old_sites: list[Site],
    edits: list[_Edit],
    policies: Mapping[tuple[str, str], ImageRef],
    filename: str,
    memo: ScanMemo | None = None,
) -> None:
    """Read the rewritten text back: same markers, and every applied one now holds its string value.

    `derived` is what `_derive` worked out the new text holds, each new value already read back in
    its context; without it (an edit it cannot vouch for) the new text is parsed. What it holds goes
    into `memo`: the next run reads this text as its input."""
    if derived is None:
        try:
            found = tuple(scan(new_text, filename=filename))
        except UpdateError as e:
            raise UpdateError(f"{filename}: internal error: the rewritten text does not parse ({e})") from None
    else:
        found = derived
    new_sites = [s for s in found if isinstance(s, Site)]
    if [s.marker for s in new_sites] != [s.marker for s in old_sites]:
        raise UpdateError(f"{filename}: internal error: the rewrite moved or lost a marker; file left unchanged")
    for edit in edits:
        site = new_sites[edit.index]
        image = policies[(site.marker.namespace, site.marker.name)]
        want = image.value_for(site.marker.field)
        if site.value != want or site.tag != quoting.STR_TAG:
            line = line_of(new_text, site.start)
            raise UpdateError(
                f"{filename}:{line}: internal error: rewritten value reads back as {site.value!r} "
                f"({site.tag}), not {want!r}; file left unchanged"
            )
    if memo is not None:
        memo.put(new_text, found)


def apply_setters(
    text: str, policies: Mapping[tuple[str, str], ImageRef], *, filename: str = "<text>"
) -> tuple[str, list[Change]]:
    """Rewrite the marked values of `text`; return the new text and the changes (empty if none).

    Raises `UpdateError` (with file:line) when the text does not parse as YAML.
    """
    result = rewrite(text, policies, filename=filename)
    return result.text, list(result.changes)
