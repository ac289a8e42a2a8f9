"""Unit tables for the setters rewriter: markers, values written, what is skipped and why."""

from __future__ import annotations

import pytest
import yaml

from tagpilot.errors import TagpilotError
from tagpilot.update import Change, ImageRef, ObjectId, UpdateError, apply_setters, parse_marker, rewrite
from tagpilot.update.setters import Marker, line_of

APP = ImageRef("ghcr.io/org/app", "1.1.0")
POLICIES = {("flux-system", "app"): APP}


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        (' {"$imagepolicy": "flux-system:app"}', Marker("flux-system", "app", "", "flux-system:app")),
        ('{"$imagepolicy":"ns:p:tag"}', Marker("ns", "p", "tag", "ns:p:tag")),
        (' {"$imagepolicy": "ns:p:name"}', Marker("ns", "p", "name", "ns:p:name")),
        (' {"$imagepolicy": "ns:p:digest"}', Marker("ns", "p", "digest", "ns:p:digest")),
        ('# {"$imagepolicy": "ns:p"}', Marker("ns", "p", "", "ns:p")),  # kyaml trims every leading '#'
        (' { "$imagepolicy" : "ns:p" , "other": "x" } ', Marker("ns", "p", "", "ns:p")),
        (' {"$ref": "#/definitions/io.k8s.cli.setters.ns:p:tag"}', Marker("ns", "p", "tag", "ns:p:tag")),
        (' {"$imagepolicy": "ns:p", "$imagepolicy": "ns:q"}', Marker("ns", "q", "", "ns:q")),  # last wins
        (' {"$imagepolicy": "ns:p:version"}', None),
        (' {"$imagepolicy": "ns:p:tag:x"}', None),
        (' {"$imagepolicy": "p"}', None),
        (' {"$imagepolicy": ":p"}', None),
        (' {"$imagepolicy": ""}', None),
        (' {"$imagepolicy": "ns:p", "n": 1}', None),  # Go map[string]string rejects a number
        (' {"$imagepolicy": "ns:p"} trailing', None),
        (" {'$imagepolicy': 'ns:p'}", None),
        (' ["$imagepolicy", "ns:p"]', None),
        (" just a comment", None),
        (' {"$ref": "#/definitions/other.ns:p"}', None),
    ],
)
def test_parse_marker(comment: str, expected: Marker | None) -> None:
    assert parse_marker(comment) == expected


M = '# {"$imagepolicy": "flux-system:app"}'
MT = '# {"$imagepolicy": "flux-system:app:tag"}'


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"image: ghcr.io/org/app:1.0 {M}\n", f"image: ghcr.io/org/app:1.1.0 {M}\n"),
        (f"image: 'ghcr.io/org/app:1.0' {M}\n", f"image: 'ghcr.io/org/app:1.1.0' {M}\n"),
        (f'image: "ghcr.io/org/app:1.0" {M}\n', f'image: "ghcr.io/org/app:1.1.0" {M}\n'),
        (f"tag: 1.0 {MT}", f"tag: 1.1.0 {MT}"),
        (f"- 1.0\t\t{MT}\r\n", f"- 1.1.0\t\t{MT}\r\n"),
        (f"tag: {MT}\n", f"tag: 1.1.0 {MT}\n"),
        (f"tag:    {MT}\n", f"tag: 1.1.0    {MT}\n"),
        (f"a: &x v1 {MT}\nb: *x\n", f"a: &x 1.1.0 {MT}\nb: *x\n"),
        (f"tag: !!str v1 {MT}\n", f"tag: !!str 1.1.0 {MT}\n"),
        (f"tag: v1\n  continued {MT}\n", f"tag: 1.1.0 {MT}\n"),
        (f"[\n  v1 {MT}\n]\n", f"[\n  1.1.0 {MT}\n]\n"),
    ],
)
def test_apply_setters_rewrites_only_the_value(source: str, expected: str) -> None:
    text, changes = apply_setters(source, POLICIES)
    assert text == expected
    assert len(changes) == 1


@pytest.mark.parametrize(
    ("tag", "written"),
    [
        ("1.10", '"1.10"'),
        ("true", '"true"'),
        ("null", '"null"'),
        ("012", '"012"'),
        ("~", '"~"'),
        ("1e3", '"1e3"'),  # a float in YAML 1.2 (yaml.v3), a string in PyYAML: quoted anyway
        ("0x1F", '"0x1F"'),
        ("0o17", '"0o17"'),
        (".inf", '".inf"'),
        ("-.Inf", '"-.Inf"'),
        (".NaN", '".NaN"'),
        ("yes", '"yes"'),
        ("no", '"no"'),
        ("on", '"on"'),
        ("off", '"off"'),
        ("Y", '"Y"'),
        ("1_000", '"1_000"'),
        ("1:20", '"1:20"'),  # YAML 1.1 sexagesimal
        ("2024-01-02", '"2024-01-02"'),  # YAML 1.1 timestamp
        ("<<", '"<<"'),
        ("123", '"123"'),
        ("-5", '"-5"'),
        ("1.2.3", "1.2.3"),
        ("v1.10", "v1.10"),
        ("latest", "latest"),
        ("main-abc123", "main-abc123"),
        ("1.0.0-rc.1+build.5", "1.0.0-rc.1+build.5"),
        ("a #b", '"a #b"'),
        ("a: b", '"a: b"'),
        ("*x", '"*x"'),
        ("&x", '"&x"'),
        ("!x", '"!x"'),
        ("- x", '"- x"'),
        ("@x", '"@x"'),
        ("`x", '"`x"'),
        ("'x", '"\'x"'),
        (' x"', '" x\\""'),
        ("tab\tx", '"tab\\tx"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("ünï", "ünï"),
    ],
)
def test_plain_values_that_would_not_read_as_the_same_string_are_double_quoted(tag: str, written: str) -> None:
    text, _ = apply_setters(f"tag: old {MT}\n", {("flux-system", "app"): ImageRef("x", tag)})
    assert text == f"tag: {written} {MT}\n"
    assert yaml.safe_load(text) == {"tag": tag}


@pytest.mark.parametrize(
    ("old", "tag", "written"),
    [
        ("'v'", "it's", "'it''s'"),
        ("'v'", "1.10", "'1.10'"),
        ("'v'", "tab\tx", '"tab\\tx"'),  # single quotes cannot carry a tab escape: double quotes
        ('"v"', 'say "hi"', '"say \\"hi\\""'),
        ('"v"', "back\\slash", '"back\\\\slash"'),
        ('"v"', "bell\x07", '"bell\\a"'),
        ('"v"', "ünï😀", '"ünï😀"'),
    ],
)
def test_quoted_values_keep_their_style_and_escape(old: str, tag: str, written: str) -> None:
    text, _ = apply_setters(f"tag: {old} {MT}\n", {("flux-system", "app"): ImageRef("x", tag)})
    assert text == f"tag: {written} {MT}\n"
    assert yaml.safe_load(text) == {"tag": tag}


def test_flow_context_quotes_flow_indicators() -> None:
    source = f"args: [--x,\n  v1 {MT}\n]\n"
    text, _ = apply_setters(source, {("flux-system", "app"): ImageRef("x", "a,b")})
    assert text == f'args: [--x,\n  "a,b" {MT}\n]\n'
    assert yaml.safe_load(text) == {"args": ["--x", "a,b"]}


def test_change_records_file_line_values_setter_and_object() -> None:
    source = (
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n"
        f"spec:\n  image: ghcr.io/org/app:1.0.0 {M}\n  tag: 1.1.0 {MT}\n"
        f"---\nkind: Job\nmetadata: {{name: j}}\nimage: a:1 {M}\n"
        f"---\n- x:1 {M}\n"
    )
    _, changes = apply_setters(source, POLICIES, filename="deploy/app.yaml")
    assert changes == [
        Change(
            "deploy/app.yaml",
            8,
            "ghcr.io/org/app:1.0.0",
            "ghcr.io/org/app:1.1.0",
            "flux-system:app",
            ObjectId(kind="Deployment", api_version="apps/v1", name="web", namespace="prod"),
        ),
        Change("deploy/app.yaml", 13, "a:1", "ghcr.io/org/app:1.1.0", "flux-system:app", ObjectId("Job", "", "j")),
        Change("deploy/app.yaml", 15, "x:1", "ghcr.io/org/app:1.1.0", "flux-system:app", None),
    ]


def test_equal_value_is_no_change_even_when_it_reads_as_a_number() -> None:
    source = f"tag: 1.10 {MT}\n"
    assert apply_setters(source, {("flux-system", "app"): ImageRef("x", "1.10")}) == (source, [])


@pytest.mark.parametrize(
    "source",
    [
        'a: x:1 # {"$imagepolicy": "other-ns:app"}\n',
        'a: x:1 # {"$imagepolicy": "flux-system:other"}\n',
        f"? x:1 {M}\n: v\n",  # mapping keys do not count
        f"{M}\na: x:1\n",  # a comment on its own line is not a marker
        f"a: [x:1] {M}\n",  # a flow collection is not a scalar value
        f"a: {{b: x:1}} {M}\n",
        "a: x:1 #" + M[1:] + " and more\n",
    ],
)
def test_markers_that_are_ignored(source: str) -> None:
    assert apply_setters(source, POLICIES) == (source, [])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (f"script: | {M}\n  x:1\n", "block scalar"),
        (f"script: >- {M}\n  x:1\n", "block scalar"),
        (f"n: !!int 3 {MT}\n", "explicit tag !!int"),
        ('d: sha256:00 # {"$imagepolicy": "flux-system:app:digest"}\n', "has no digest"),
    ],
)
def test_markers_not_applied_are_reported(source: str, reason: str) -> None:
    result = rewrite(source, POLICIES, filename="f.yaml")
    assert result.text == source
    assert result.changes == ()
    assert len(result.notices) == 1
    assert reason in result.notices[0].reason
    assert result.notices[0].file == "f.yaml"
    assert result.notices[0].line == 1


def test_block_scalar_with_marker_of_unselected_policy_is_not_reported() -> None:
    source = 'script: | # {"$imagepolicy": "other:app"}\n  x\n'
    assert rewrite(source, POLICIES).notices == ()


@pytest.mark.parametrize(
    ("source", "line"),
    [
        (f"a: 1\n{{{{- if .Values.x }}}}\nimage: x:1 {M}\n{{{{- end }}}}\n", 3),
        (f"image: x:1 {M}\nimage: y\n", 2),  # duplicate keys are an error in yaml.v3, hence in Flux
        (f"a: 1\n b: [\nimage: x {M}\n", None),
    ],
)
def test_unparseable_text_raises_update_error_with_location(source: str, line: int | None) -> None:
    with pytest.raises(UpdateError) as info:
        apply_setters(source, POLICIES, filename="charts/t.yaml")
    assert isinstance(info.value, TagpilotError)
    message = str(info.value)
    assert message.startswith("charts/t.yaml:")
    if line is not None:
        assert message.startswith(f"charts/t.yaml:{line}:")


def test_bom_and_non_ascii_offsets() -> None:
    source = f"\ufeff# ünï 😀 𝄞\r\nnote: «é»\r\nimage: 'ghcr.io/org/app:1.0' {M}\r\n"
    text, changes = apply_setters(source, POLICIES)
    assert text == source.replace("app:1.0'", "app:1.1.0'")
    assert changes[0].line == 3


@pytest.mark.parametrize(
    ("text", "pos", "line"),
    [("a\nb\nc", 4, 3), ("a\r\nb\r\nc", 6, 3), ("a\rb\rc", 4, 3), ("a\r\n", 3, 2), ("abc", 2, 1)],
)
def test_line_of(text: str, pos: int, line: int) -> None:
    assert line_of(text, pos) == line


@pytest.mark.parametrize(
    ("field", "value"),
    [("", "r/a:1@sha256:ab"), ("tag", "1"), ("name", "r/a"), ("digest", "sha256:ab")],
)
def test_image_ref_values(field: str, value: str) -> None:
    assert ImageRef("r/a", "1", "sha256:ab").value_for(field) == value


def test_image_ref_without_tag_or_digest() -> None:
    assert str(ImageRef("r/a")) == "r/a"
    assert str(ImageRef("r/a", digest="sha256:ab")) == "r/a@sha256:ab"
    assert ImageRef("r/a").value_for("digest") is None


@pytest.mark.parametrize(
    "plain", ["1", "true", "abc", "1.0", "~", "null", "0x1f", "2001-12-14", "1_000", "=", "<<", ".inf", "v1.2.3", "No"]
)
def test_memoized_tag_resolution_matches_pyyaml(plain: str) -> None:
    """The loader remembers a plain scalar's tag; the first and the remembered answer are PyYAML's."""
    from tagpilot.update.setters import _Loader

    text = f"a: {plain}\nb: [{plain}]\nc: '{plain}'\n"
    want = [(k.value, v.tag) for k, v in yaml.compose(text, Loader=yaml.SafeLoader).value]
    for _ in range(2):
        assert [(k.value, v.tag) for k, v in yaml.compose(text, Loader=_Loader).value] == want


def test_change_lines_are_counted_as_yaml_counts_them_in_a_long_file() -> None:
    """Lines are counted from one marked value to the next (not from the start each time): the same
    numbers as counting from the start, with CRLF one break and the other YAML breaks counted."""
    parts = []
    for i in range(300):
        eol = ("\n", "\r\n", "\r")[i % 3]
        parts.append(f'k{i}: a/app:1.0 # {{"$imagepolicy": "ns:app"}}{eol}')
        if i % 7 == 0:
            parts.append(f"# note {i}\n\n")
    text = "".join(parts)
    result = rewrite(text, {("ns", "app"): ImageRef("a/app", "2.0")})
    assert len(result.changes) == 300
    starts = [i for i in range(len(text)) if text.startswith("a/app:1.0", i)]
    assert [c.line for c in result.changes] == [line_of(text, pos) for pos in starts]
    assert result.changes[-1].line == text.count("\n") + text.count("\r") - text.count("\r\n")
