"""Sprig functions, Go fmt/strconv formatting, JSON decoding, the CLI, and property tests."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagpilot.cli.template_cmd import render_batch, render_file
from tagpilot.gotemplate import TemplateError, from_json, parse, render
from tagpilot.gotemplate.gofmt import format_float, sprint, sprintf

SPRIG_CASES = [
    ('{{ "Hello World" | lower }} {{ "abc" | upper }} {{ "hello world" | title }}', "hello world ABC Hello World"),
    ('{{ "  x  " | trim }}|{{ trimPrefix "v" "v1.2.3" }}|{{ trimSuffix "-rc" "1.0-rc" }}', "x|1.2.3|1.0"),
    ('{{ contains "ell" "hello" }} {{ hasPrefix "he" "hello" }} {{ hasSuffix "lo" "hello" }}', "true true true"),
    ('{{ replace "-" "_" "a-b-c" }} {{ repeat 3 "ab" }} {{ trunc 3 "abcdef" }} {{ trunc -2 "abcdef" }}',
     "a_b_c ababab abc ef"),
    ('{{ quote "a\\"b" 1 }} {{ squote "x" }}', '"a\\"b" "1" \'x\''),
    ('{{ join ", " .l }} {{ splitList "," "a,b" }} {{ splitList "," "a,b" | join "+" }}', "a, b [a b] a+b"),
    ('{{ .missing | default "dflt" }} {{ "" | default "e" }} {{ .s | default "no" }}', "dflt e x"),
    ("{{ empty .missing }} {{ empty .l }} {{ empty 0 }} {{ empty .s }}", "true false true false"),
    ('{{ list 1 "a" .n | toJson }} {{ dict "b" 1 "a" "<x>" | toJson }}', '[1,"a",3] {"a":"\\u003cx\\u003e","b":1}'),
    ('{{ $d := dict "k" "v" }}{{ get $d "k" }}{{ get $d "no" }} {{ hasKey $d "k" }} {{ keys $d }}', "v true [k]"),
    ('{{ "hello" | b64enc }} {{ "aGVsbG8=" | b64dec }}', "aGVsbG8= hello"),
    ("{{ toJson .m }}", '{"a":1.5,"b":null,"c":[1e+21,1e-7,100]}'),
    ('{{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }}', "-W-xxW-"),
    ('{{ regexMatch "^v[0-9]+" "v12" }} {{ regexFind "[0-9]+" "ab12cd34" }}', "true 12"),
    ('{{ add 1 2 }} {{ sub 5 3 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ mod 7 2 }} {{ max 1 9 3 }}', "3 2 24 3 1 9"),
    ('{{ indent 2 "a\\nb" }}|{{ nindent 2 "c" }}', "  a\n  b|\n  c"),
    ('{{ first .l }} {{ last .l }} {{ rest .l }} {{ reverse .l }} {{ has "a" .l }}', "a b [b] [b a] true"),
    ('{{ typeOf .n }} {{ typeOf .l }} {{ kindOf .m }} {{ toString 1.5 }}', "float64 []interface {} map 1.5"),
    ('{{ ternary "y" "n" true }} {{ coalesce .missing "" "c" }} {{ cat "a" 1 .missing "b" }}', "y c a 1 b"),
    ('{{ sha256sum "x" | trunc 8 }} {{ base "/a/b.yaml" }} {{ ext "b.yaml" }}', "2d711642 b.yaml .yaml"),
]


@pytest.mark.parametrize(("tmpl", "expected"), SPRIG_CASES)
def test_sprig(tmpl: str, expected: str) -> None:
    data = from_json('{"l": ["a", "b"], "s": "x", "n": 3, "m": {"a": 1.5, "b": null, "c": [1e21, 1e-7, 100]}}')
    assert render(tmpl, data) == expected


def test_flux_style_commit_message() -> None:
    tmpl = (
        "Automated image update\n\nAutomation name: {{ .AutomationObject }}\n\nFiles:\n"
        "{{ range $filename, $_ := .Changed.FileChanges -}}\n- {{ $filename }}\n{{ end -}}\n"
    )
    data = {"AutomationObject": "flux-system/podinfo",
            "Changed": {"FileChanges": {"b.yaml": {}, "a.yaml": {}}}}
    assert render(tmpl, data) == (
        "Automated image update\n\nAutomation name: flux-system/podinfo\n\nFiles:\n- a.yaml\n- b.yaml\n"
    )


FLOATS = [
    (0.0, "0"), (1.0, "1"), (-2.5, "-2.5"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (1e20, "1e+20"), (1e21, "1e+21"), (0.0001, "0.0001"), (0.00001, "1e-05"), (0.1 + 0.2, "0.30000000000000004"),
    (float("inf"), "+Inf"), (float("nan"), "NaN"),
]


@pytest.mark.parametrize(("value", "expected"), FLOATS)
def test_float_v(value: float, expected: str) -> None:
    assert sprint(value) == expected


@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%6.2f|%-6.1f|%06.2f", (3.14159, 2.0, -1.5), "  3.14|2.0   |-01.50"),
        ("%e|%E|%.0e", (1500.0, 0.00015, 5.0), "1.500000e+03|1.500000E-04|5e+00"),
        ("%g|%.3g|%G", (1e-7, 1234.5678, 1e21), "1e-07|1.23e+03|1E+21"),
        ("%x|%#x|%o|%#o|%b|%08b", (255, 255, 8, 8, 5, 5), "ff|0xff|10|010|101|00000101"),
        ("%+d|% d|%5d|%-5d|%.3d", (5, 5, -42, 42, 7), "+5| 5|  -42|42   |007"),
        ("%q|%+q|%#q|%x|% x", ("é\n", "é", "a`b", "hi", "hi"), '"é\\n"|"\\u00e9"|"a`b"|6869|68 69'),
        ("%.2s|%5.1s|%-4s|", ("hello", "xyz", "ab"), "he|    x|ab  |"),
        ("%v %d %s", ([1, "a"], [1, 2], ["x", 3]), "[1 a] [1 2] [x %!s(int=3)]"),
        ("%t|%t", (True, "x"), "true|%!t(string=x)"),
        ("%d %d", (1, 2, 3, "x"), "1 2%!(EXTRA int=3, string=x)"),
        ("%[2]d %[1]d", (1, 2), "2 1"),
        ("%*d|%.*f", (4, 7, 2, 3.14159), "   7|3.14"),
        ("%c|%q|%U", (0x1F600, 65, 0x41), "😀|'A'|U+0041"),
        ("%T %T %T", (None, True, {"a": 1}), "<nil> bool map[string]interface {}"),
        ("%v|%d", (None, None), "<nil>|%!d(<nil>)"),
    ],
)
def test_sprintf(fmt: str, args: tuple, expected: str) -> None:
    assert sprintf(fmt, *args) == expected


def test_format_float_precision() -> None:
    assert format_float(2.5, "f", 0) == "2"
    assert format_float(3.5, "f", 0) == "4"
    assert format_float(1.005, "f", 2) == "1.00"


def test_from_json_numbers_are_float64() -> None:
    data = from_json('{"n": 3, "l": [1, 2.5], "z": null}')
    assert data == {"n": 3.0, "l": [1.0, 2.5], "z": None}
    assert isinstance(data["n"], float)
    with pytest.raises(TemplateError):
        from_json("{bad")
    with pytest.raises(TemplateError):
        from_json("NaN")


def test_cli_batch(tmp_path: Path) -> None:
    lines = [
        {"template": "{{.n}} {{printf \"%d\" .n}}", "data": {"n": 3}},
        {"template": "{{eq .n 3}}", "data": {"n": 3}},
        {"template": "{{.x", "data": {}},
    ]
    f = tmp_path / "cases.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    code, out = render_batch(f)
    assert code == 0
    got = [json.loads(x) for x in out.splitlines()]
    assert got[0] == {"output": "3 %!d(float64=3)"}
    assert got[1] == {"error": 'template: msg:1:2: executing "msg" at <eq .n 3>: '
                      "error calling eq: incompatible types for comparison"}
    assert got[2] == {"error": "template: msg:1: unclosed action"}


def test_cli_render_file(tmp_path: Path) -> None:
    (tmp_path / "t.tmpl").write_text("Hello {{ .who | upper }}")
    (tmp_path / "d.json").write_text('{"who": "flux"}')
    assert render_file(tmp_path / "t.tmpl", tmp_path / "d.json") == (0, "Hello FLUX")
    (tmp_path / "bad.tmpl").write_text("{{ .who.x.y | lower }}")
    code, out = render_file(tmp_path / "bad.tmpl", tmp_path / "d.json")
    assert code == 1 and "can't evaluate field x in type string" in out
    assert render_file(tmp_path / "nope.tmpl")[0] == 2


# ---- properties

@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"{}-/*.$|()\"'`:=, \n\tabxif0123", "{{", "}}", "{{- ", " -}}", "end",
                                  "range", "else", "define", "template", "break", "len", "\\", "é"]),
                max_size=30).map("".join))
def test_parser_never_crashes(text: str) -> None:
    try:
        t = parse(text, "t")
    except TemplateError:
        return
    with contextlib.suppress(TemplateError):
        t.execute({"a": 1})


@settings(max_examples=200, deadline=None)
@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_actions_is_identity(text: str) -> None:
    assert render(text, None) == text


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_shortest_float_round_trips(f: float) -> None:
    assert float(sprint(f)) == f
