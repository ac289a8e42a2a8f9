"""Set, create and delete values at key paths of a YAML document by editing only the characters involved.

The same surgery as `setters` (the YAML is only *read*, to learn where each node is; the new text is
spliced into the original), for targets addressed by a path instead of a marker: Helm values keys
(`image.tag`, `images[0].tag`) and the `images:` entries of a kustomization. Upstream re-marshals
these files and loses comments, order and anchors, or corrupts them (argocd-image-updater #884,
#1489, #1584); here every byte outside the edited spans stays as it was.

What one edit does:
- `set(path, value)`: an existing scalar keeps its quote style (plain is quoted when the new text
  would not read back as this string); a missing key is created at the indentation of its siblings
  (or one indentation unit deeper than its parent key), with the missing parents above it; a key
  that is present with an empty value (`image:`) receives the block under it;
- `append(path, mapping)`: a new `- k: v` item at the end of a block (or flow) sequence, created
  when missing;
- `delete(path)`: removes a `key: scalar` line of a block mapping.

Refused, with an `UpdateError` naming file and line (the file is then not written): a path that
goes through an alias (editing would change the anchored node, and so every other alias of it), a
list index beyond the list, a scalar where a mapping is needed, block scalars, more than one
document. Every result is parsed again and each edited path read back before it is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from tagpilot.errors import ConfigError, UpdateError
from tagpilot.update import quoting
from tagpilot.update.setters import _compose, line_of

Path_ = tuple[str | int, ...]
_NULLS = ("", "~", "null", "Null", "NULL")


def parse_path(text: str) -> Path_:
    """`a.b[0].c` → ('a', 'b', 0, 'c'), as upstream's Helm keys are written."""
    out: list[str | int] = []
    for part in text.split("."):
        name, bracket, rest = part.partition("[")
        if not name and not bracket:
            raise UpdateError(f"key {text!r}: empty part")
        if name:
            out.append(name)
        while bracket:
            index, close, rest = rest.partition("]")
            if not close or not index.isdigit():
                raise UpdateError(f"key {text!r}: list index must be [<number>]")
            out.append(int(index))
            rest, bracket = rest.removeprefix("["), rest[:1] == "["
            if rest and not bracket:
                raise UpdateError(f"key {text!r}: unexpected {rest!r} after ]")
    return tuple(out)


def show_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass
class Found:
    """Where a path leads: the node, or the deepest existing mapping and what is missing below it."""

    node: yaml.Node | None
    parent: yaml.Node | None  # the mapping (or null scalar) the missing rest goes into
    parent_key: yaml.Node | None  # the key node of `parent` in its own parent (for its indentation)
    missing: Path_ = ()


class YamlDocument:
    """One YAML document as text, edited in place; `text` is the result."""

    def __init__(self, text: str, filename: str) -> None:
        self.text, self.filename = text, filename
        self.newline = "\r\n" if "\r\n" in text else "\n"

    # -- reading ----------------------------------------------------------------------------------

    def _root(self) -> tuple[yaml.Node | None, int]:
        from tagpilot.config.source import check_structure

        try:
            check_structure(self.text, self.filename)  # no alias bomb or absurd nesting from the repository
        except ConfigError as exc:
            raise UpdateError(f"{self.filename}: {exc}") from None
        except yaml.YAMLError:
            pass  # `_compose` reports it with the line
        roots, offset = _compose(self.text, self.filename)
        if len(roots) > 1:
            raise UpdateError(f"{self.filename}: holds {len(roots)} YAML documents; a single document is needed")
        return (roots[0] if roots else None), offset

    def _line(self, node: yaml.Node, offset: int) -> int:
        return line_of(self.text, node.start_mark.index + offset)

    def find(self, path: Path_) -> tuple[Found, int]:
        root, offset = self._root()
        if root is None:
            return Found(None, None, None, path), offset
        node: yaml.Node = root
        key_node: yaml.Node | None = None
        for i, part in enumerate(path):
            here = show_path(path[:i]) or "the document"
            if isinstance(part, int):
                if not isinstance(node, yaml.SequenceNode):
                    raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {here} is not a list, so "
                                      f"{show_path(path)} cannot be set")
                if part >= len(node.value):
                    raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {show_path(path)}: the list "
                                      f"{here} has {len(node.value)} item(s); list items are not created")
                node, key_node = node.value[part], None
                continue
            if isinstance(node, yaml.ScalarNode) and node.value in _NULLS and node.tag.endswith(":null") \
                    and node.style in ("", None):
                return Found(None, node, key_node, path[i:]), offset
            if not isinstance(node, yaml.MappingNode):
                raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {here} is not a mapping, so "
                                  f"{show_path(path)} cannot be set")
            match = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if match is None:
                return Found(None, node, key_node, path[i:]), offset
            key, value = match
            if value.start_mark.index < key.end_mark.index:
                raise UpdateError(f"{self.filename}:{self._line(key, offset)}: {show_path(path[:i + 1])} is an alias "
                                  "(*name) of an anchored node; editing it would change every use of the anchor, "
                                  "so the file is left as it is")
            node, key_node = value, key
        return Found(node, None, key_node), offset

    def get(self, path: Path_) -> str | None:
        """The scalar text at `path`, None when absent or not a scalar."""
        try:
            found, _ = self.find(path)
        except UpdateError:
            return None
        node = found.node
        if isinstance(node, yaml.ScalarNode) and not found.missing:
            return None if node.tag.endswith(":null") else node.value
        return None

    # -- writing ----------------------------------------------------------------------------------

    def _splice(self, start: int, end: int, new: str) -> None:
        self.text = self.text[:start] + new + self.text[end:]

    def _line_end(self, pos: int) -> int:
        """Index just after the line break ending the line of `pos` (the end of text when none)."""
        if pos > 0 and self.text[pos - 1] == "\n":
            return pos
        i = self.text.find("\n", pos)
        return len(self.text) if i == -1 else i + 1

    def _last_end(self, node: yaml.Node, offset: int) -> int:
        """Where the text of a block collection ends: the end of its last descendant. An alias (`*a`)
        carries the marks of the anchored node, written earlier: its key's line is used instead."""
        while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style and node.value:
            last = node.value[-1]
            if isinstance(last, tuple):
                key, value = last
                if value.start_mark.index < key.end_mark.index:
                    return key.end_mark.index + offset
                node = value
            else:
                if last.start_mark.index < node.start_mark.index:
                    raise UpdateError(f"{self.filename}:{line_of(self.text, node.start_mark.index + offset)}: a "
                                      "list ending in an alias (*name) is not extended; add the entry by hand")
                node = last
        return node.end_mark.index + offset

    def _unit(self, root: yaml.Node | None) -> int:
        """The document's indentation step: the first nested block mapping's offset from its key."""
        stack = [root] if root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(v, yaml.MappingNode) and not v.flow_style and v.value:
                        step = v.value[0][0].start_mark.column - k.start_mark.column
                        if step > 0:
                            return step
                    stack.append(v)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
        return 2

    def _key(self, key: str) -> str:
        return quoting.render(key, "", flow=False)

    def _block(self, rest: Sequence[str | int], value: str | dict[str, str], indent: int, unit: int) -> str:
        """`k1:\\n  k2: value` lines for the missing keys, each line ending in a line break."""
        nl, lines = self.newline, []
        for depth, part in enumerate(rest):
            if isinstance(part, int):
                raise UpdateError(f"{self.filename}: {show_path(tuple(rest))}: list items are not created")
            pad = " " * (indent + depth * unit)
            if depth < len(rest) - 1:
                lines.append(f"{pad}{self._key(part)}:")
            elif isinstance(value, dict):
                lines.append(f"{pad}{self._key(part)}:")
                lines.append(self._item(value, indent + depth * unit).rstrip("\r\n"))
            else:
                lines.append(f"{pad}{self._key(part)}: {quoting.render(value, '', flow=False)}")
        return nl.join(lines) + nl

    def _item(self, mapping: dict[str, str], dash: int) -> str:
        """A block sequence item `- k: v` with its other keys under the first, at column `dash`."""
        nl, out = self.newline, []
        for i, (k, v) in enumerate(mapping.items()):
            lead = " " * dash + "- " if i == 0 else " " * (dash + 2)
            out.append(f"{lead}{self._key(k)}: {quoting.render(v, '', flow=False)}")
        return nl.join(out) + nl

    def _flow(self, rest: Sequence[str | int], value: str | dict[str, str]) -> str:
        if not rest:
            if isinstance(value, dict):
                return "{" + ", ".join(f"{self._key(k)}: {quoting.render(v, '', flow=True)}"
                                       for k, v in value.items()) + "}"
            return quoting.render(value, "", flow=True)
        head = rest[0]
        if isinstance(head, int):
            raise UpdateError(f"{self.filename}: list items are not created")
        inner = self._flow(rest[1:], value)
        if isinstance(value, dict) and len(rest) == 1:
            inner = "[" + inner + "]"
        return f"{self._key(head)}: {inner}" if len(rest) == 1 else f"{self._key(head)}: {{{inner}}}"

    def _create(self, found: Found, offset: int, value: str | dict[str, str], root: yaml.Node | None,
                after: str | None = None) -> None:
        """Write the missing keys `found.missing` (the last one holding `value`) into `found.parent`."""
        unit = self._unit(root)
        parent, rest = found.parent, found.missing
        if parent is None:  # an empty document
            head = self.text
            if head.strip() and not head.endswith(("\n", "\r")):
                head += self.newline
            self.text = head + self._block(rest, value, 0, unit)
            return
        if isinstance(parent, yaml.ScalarNode):  # `image:` with no value (or `~`): the block goes under it
            column = found.parent_key.start_mark.column + unit if found.parent_key is not None else 0
            start, end = parent.start_mark.index + offset, parent.end_mark.index + offset
            line_end = self._line_end(end)
            tail = self.text[end:line_end]
            if not tail.endswith("\n"):
                tail += self.newline
            self.text = self.text[:start].rstrip(" \t") + tail + self._block(rest, value, column, unit) + \
                self.text[line_end:]
            return
        assert isinstance(parent, yaml.MappingNode)
        if parent.flow_style:
            close = parent.end_mark.index + offset - 1  # the `}`
            sep = ", " if parent.value else ""
            self._splice(close, close, sep + self._flow(rest, value))
            return
        column = parent.value[0][0].start_mark.column
        pos = self._line_end(self._last_end(parent, offset))
        sibling = next((v for k, v in parent.value if isinstance(k, yaml.ScalarNode) and k.value == after), None)
        if isinstance(sibling, yaml.ScalarNode) and sibling.style not in ("|", ">") and \
                sibling.start_mark.index > parent.start_mark.index:  # not an alias
            pos = self._line_end(sibling.end_mark.index + offset)
        prefix = "" if pos == 0 or self.text[pos - 1] == "\n" else self.newline
        self._splice(pos, pos, prefix + self._block(rest, value, column, unit))

    def set(self, path: Path_, value: str, *, after: str | None = None) -> str | None:
        """Set the scalar at `path` to the string `value`; the old text (None when it was created).
        A created key goes right after its sibling `after` when that is a one-line value, else last."""
        found, offset = self.find(path)
        if found.missing:
            root, _ = self._root()
            self._create(found, offset, value, root, after=after)
            old = None
        else:
            node = found.node
            assert node is not None
            if not isinstance(node, yaml.ScalarNode):
                raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {show_path(path)} is a "
                                  f"{'mapping' if isinstance(node, yaml.MappingNode) else 'list'}, not a value")
            if node.style in ("|", ">"):
                raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {show_path(path)} is a block "
                                  "scalar (| or >); write it as a plain or quoted value")
            old = None if node.tag.endswith(":null") else node.value
            if old == value and node.tag == quoting.STR_TAG:
                return old
            flow = self._in_flow(path)
            start, end = node.start_mark.index + offset, node.end_mark.index + offset
            while start < end and self.text[start] in "&!":  # keep an anchor/tag before the value
                nxt = start
                while nxt < end and self.text[nxt] not in " \t\r\n":
                    nxt += 1
                if self.text[start] == "!":
                    raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {show_path(path)} has an "
                                      "explicit tag; not rewritten")
                start = nxt
                while start < end and self.text[start] in " \t":
                    start += 1
            text = quoting.render(value, node.style or "", flow=flow)
            if start == end and start > 0 and self.text[start - 1] not in " \t":
                text = " " + text
            self._splice(start, end, text)
        if self.get(path) != value:
            raise UpdateError(f"{self.filename}: internal error: {show_path(path)} does not read back as {value!r} "
                              "after the edit; file left unchanged")
        return old

    def _in_flow(self, path: Path_) -> bool:
        root, _ = self._root()
        node = root
        for part in path[:-1]:
            if node is None:
                return False
            if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.flow_style:
                return True
            if isinstance(part, int) and isinstance(node, yaml.SequenceNode):
                node = node.value[part]
            elif isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        return isinstance(node, yaml.MappingNode | yaml.SequenceNode) and bool(node.flow_style)

    def append(self, path: Path_, mapping: dict[str, str]) -> None:
        """Add `mapping` as the last item of the list at `path` (created when missing)."""
        found, offset = self.find(path)
        root, _ = self._root()
        if found.missing:
            # kustomize style: a new top-level list is not indented under its key
            self._create(found, offset, mapping, root)
            return
        node = found.node
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
            column = found.parent_key.start_mark.column if found.parent_key is not None else 0
            end = node.end_mark.index + offset
            line_end = self._line_end(end)
            tail = self.text[end:line_end]
            if not tail.endswith("\n"):
                tail += self.newline
            start = node.start_mark.index + offset
            self.text = self.text[:start].rstrip(" \t") + tail + self._item(mapping, column) + self.text[line_end:]
            return
        if not isinstance(node, yaml.SequenceNode):
            raise UpdateError(f"{self.filename}:{self._line(node, offset)}: {show_path(path)} is not a list")
        if node.flow_style:
            close = node.end_mark.index + offset - 1
            self._splice(close, close, (", " if node.value else "") + self._flow((), mapping))
            return
        first = node.value[0]
        dash = self.text.rfind("-", 0, first.start_mark.index + offset) - (
            first.start_mark.index + offset - first.start_mark.column)
        pos = self._line_end(self._last_end(node, offset))
        prefix = "" if pos == 0 or self.text[pos - 1] == "\n" else self.newline
        self._splice(pos, pos, prefix + self._item(mapping, dash))

    def delete(self, path: Path_) -> bool:
        """Remove `key: value` at `path` from its block mapping, with the lines of a block value; False
        when it is not there. The first key of a list item (`- key: v`) hands its dash to the next key."""
        found, offset = self.find(path[:-1])
        parent = found.node
        if found.missing or not isinstance(parent, yaml.MappingNode):
            return False
        index = next((i for i, (k, _v) in enumerate(parent.value)
                      if isinstance(k, yaml.ScalarNode) and k.value == path[-1]), None)
        if index is None:
            return False
        key, value = parent.value[index]
        start = key.start_mark.index + offset
        line_start = self.text.rfind("\n", 0, start) + 1
        before = self.text[line_start:start].strip()
        block = isinstance(value, yaml.ScalarNode) and value.style in ("|", ">")
        if parent.flow_style or before not in ("", "-") or len(parent.value) == 1 or block or \
                (value.start_mark.index < key.end_mark.index):  # an alias: its marks are the anchor's
            raise UpdateError(f"{self.filename}:{self._line(key, offset)}: {show_path(path)} cannot be removed "
                              "without rewriting its surroundings; remove it by hand")
        end = self._line_end(self._last_end(value, offset))
        if before == "-":  # `- key: v` then `  next: w`: the next key moves up behind the dash
            following = parent.value[index + 1][0]
            self._splice(start, following.start_mark.index + offset, "")
            return True
        self._splice(line_start, end, "")
        return True
