"""Property: outside the edited values, every byte is unchanged; edited values read back as strings.

Documents are generated with markers for the selected policy, for another namespace, and without
markers; quoting, indentation, spacing before the comment, CRLF, a leading ``---``, non-ASCII
comments and the final newline all vary. The oracle is libyaml through PyYAML (pure PyYAML refuses
a tab before a comment, which YAML and libyaml allow), independent of the rewriter's quoting.
"""

from __future__ import annotations

import json
from unittest import mock

import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tagpilot.update import ImageRef, apply_setters, setters
from tagpilot.update.scanmemo import ScanMemo

POLICY = ("flux-system", "app")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SUFFIXES = {"": "full", ":tag": "tag", ":name": "name"}

image_like = st.from_regex(r"[a-z][a-z0-9]{0,6}(\.[a-z]{2,3})?(/[a-z0-9]{1,5}){0,2}", fullmatch=True)
tag_like = st.one_of(
    st.from_regex(r"v?[0-9]{1,2}(\.[0-9]{1,2}){0,2}(-[a-z0-9]{1,4})?", fullmatch=True),
    st.sampled_from(
        [
            "1.10",
            "true",
            "null",
            "012",
            "~",
            "1e3",
            "0x1F",
            ".inf",
            "yes",
            "no",
            "on",
            "off",
            "1:20",
            "2024-01-02",
            "latest",
            "<<",
            "-",
            "a #b",
            "a: b",
            "*x",
            "'q'",
            '"q"',
            "x\\y",
            "ünï 😀",
            " pad ",
        ]
    ),
    st.text(alphabet=st.sampled_from(list("abz019.-_:/@#'\" ,[]{}&*!|>%?ü😀\t")), min_size=1, max_size=12),
)


def _plain_ok(value: str) -> bool:
    """Independent oracle for generating *old* plain values: PyYAML reads them back as this string."""
    try:
        return yaml.load(f"k: {value}\n", Loader=Loader) == {"k": value} and "#" not in value
    except yaml.YAMLError:
        return False


def _quote(value: str, style: str) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)


@st.composite
def entries(draw):
    kind = draw(st.sampled_from(["selected", "other-namespace", "plain-comment", "none"]))
    suffix = draw(st.sampled_from(list(SUFFIXES)))
    style = draw(st.sampled_from(["", "'", '"']))
    old = draw(image_like.map(lambda s: s + ":1.0") | tag_like)
    if style == "" and not _plain_ok(old):
        style = '"'
    space = draw(st.sampled_from([" ", "  ", "\t", " \t "]))
    return kind, suffix, _quote(old, style) if style else old, old, space


@st.composite
def documents(draw):
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    indent = " " * draw(st.integers(1, 4))
    items = draw(st.lists(entries(), min_size=1, max_size=8))
    as_sequence = draw(st.booleans())
    lines: list[tuple[str, str, str, tuple | None]] = []  # (prefix, value source, suffix, entry)
    if draw(st.booleans()):
        lines.append(("---", "", "", None))
    if draw(st.booleans()):
        lines.append(('# 注释 — ünïcödé 😀 {"$imagepolicy": "flux-system:app"}', "", "", None))
    lines.append(("root:", "", "", None))
    for i, (kind, suffix, source, old, space) in enumerate(items):
        prefix = f"{indent}- " if as_sequence else f"{indent}k{i}: "
        if kind == "selected":
            comment = f'{space}# {{"$imagepolicy": "flux-system:app{suffix}"}}'
        elif kind == "other-namespace":
            comment = f'{space}# {{"$imagepolicy": "other:app{suffix}"}}'
        elif kind == "plain-comment":
            comment = f"{space}# note ü"
        else:
            comment = ""
        lines.append((prefix, source, comment, (kind, suffix, old)))
    final_newline = draw(st.booleans())
    return lines, eol, final_newline, as_sequence


@settings(max_examples=300, deadline=None)
@given(doc=documents(), name=image_like, tag=tag_like)
def test_only_edited_values_change(doc, name: str, tag: str) -> None:
    lines, eol, final_newline, as_sequence = doc
    text = eol.join(p + v + s for p, v, s, _ in lines) + (eol if final_newline else "")
    image = ImageRef(name, tag)
    new_for = {"": str(image), ":tag": tag, ":name": name}

    new_text, changes = apply_setters(text, {POLICY: image})

    # Same line structure; each line is either identical or differs only inside the value's span.
    old_lines = text.split(eol)
    new_lines = new_text.split(eol)
    assert len(new_lines) == len(old_lines)
    expected_values = []
    edited = 0
    for (prefix, source, suffix, entry), old_line, new_line in zip(lines, old_lines, new_lines, strict=False):
        if entry is None:
            assert new_line == old_line
            continue
        kind, marker_suffix, old = entry
        assert new_line.startswith(prefix)
        assert new_line.endswith(suffix)
        middle = new_line[len(prefix) : len(new_line) - len(suffix)]
        want = new_for[marker_suffix] if kind == "selected" else old
        expected_values.append(want)
        if kind != "selected" or want == old:
            assert middle == source
        else:
            edited += 1
            # The middle alone is a complete scalar that YAML reads as the new string.
            assert yaml.load(f"k: {middle}\n", Loader=Loader) == {"k": want}
    assert new_text.endswith(eol) == final_newline
    assert len(changes) == edited
    event(f"values edited: {min(edited, 3)}{'+' if edited >= 3 else ''}")

    loaded = yaml.load(new_text, Loader=Loader)["root"]
    values = loaded if as_sequence else [loaded[f"k{i}"] for i in range(len(expected_values))]
    assert values == expected_values
    assert all(isinstance(v, str) for v in values)

    # Applying again changes nothing.
    assert apply_setters(new_text, {POLICY: image}) == (new_text, [])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_junk_never_crashes(junk: str) -> None:
    """Any text either parses (and is returned unchanged when it has no marker) or raises UpdateError."""
    from tagpilot.update import UpdateError

    try:
        out, changes = apply_setters(junk, {POLICY: ImageRef("x", "1")})
    except UpdateError:
        return
    if '"$imagepolicy"' not in junk:
        assert (out, changes) == (junk, [])


def _flow_ok(value: str) -> bool:
    """Independent oracle for *old* plain values in a flow sequence."""
    try:
        return yaml.load(f"[{value}]\n", Loader=Loader) == [value] and "#" not in value
    except yaml.YAMLError:
        return False


@settings(max_examples=300, deadline=None)
@given(doc=documents(), name=image_like, tag=tag_like, flow=st.booleans(), data=st.data())
def test_what_is_remembered_of_the_output_is_what_parsing_it_finds(doc, name: str, tag: str, flow: bool,
                                                                   data) -> None:
    """`rewrite` works out what the rewritten text holds from the input's parse and its edits instead of
    parsing it (`setters._derive`): that must equal a parse of the output, in block and flow collections."""
    lines, eol, final_newline, _ = doc
    if flow:  # the same values as a flow sequence, one per line, each line's comment after its value
        values = [(p, v, s, e) for p, v, s, e in lines if e is not None]
        body = []
        for i, (_, source, suffix, entry) in enumerate(values):
            old = entry[2]
            if source == old and not _flow_ok(old):
                source = json.dumps(old, ensure_ascii=False)
            body.append(f"  {', ' if i else ''}{source}{suffix}")
        text = eol.join(["root: [", *body, "  ]"]) + (eol if final_newline else "")
    else:
        text = eol.join(p + v + s for p, v, s, _ in lines) + (eol if final_newline else "")
    if data.draw(st.booleans()):
        text = text + eol + "---" + eol + text  # a second document
    memo = ScanMemo()
    with mock.patch.object(setters, "scan", wraps=setters.scan) as scan:
        result = setters.rewrite(text, {POLICY: ImageRef(name, tag)}, memo=memo)
        parsed = scan.call_count
    if not result.changes:
        return
    event(f"flow={flow} output parsed={parsed > 1}")
    assert memo.get(result.text) == tuple(setters.scan(result.text))
