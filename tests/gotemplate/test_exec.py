"""Tables of Go text/template behaviour (from Go's doc.go, exec_test.go and observed Go output)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tagpilot.gotemplate import GoStruct, TemplateError, from_json, parse, render

JSON = from_json(
    '{"n": 3, "f": 1.5, "big": 1000000, "s": "hello", "t": true, "z": null, "empty": "",'
    ' "l": ["a", "b", "c"], "nums": [1, 2, 3], "m": {"b": 2, "a": 1, "c": {"x": "y"}}, "el": []}'
)

# (template, expected output)
OUTPUT_CASES = [
    ("plain text", "plain text"),
    ("{{.s}}", "hello"),
    ("{{.n}}", "3"),
    ("{{.f}}", "1.5"),
    ("{{.big}}", "1e+06"),
    ("{{.t}}", "true"),
    ("{{.missing}}", "<no value>"),
    ("{{.z}}", "<no value>"),
    ("{{print .missing}}", "<nil>"),
    ("{{.missing.deeper}}", "<no value>"),
    ("{{.l}}", "[a b c]"),
    ("{{.m}}", "map[a:1 b:2 c:map[x:y]]"),
    ("{{.m.c.x}}", "y"),
    ("{{printf \"%d\" .n}}", "%!d(float64=3)"),
    ("{{printf \"%v|%.2f|%g\" .n .f .f}}", "3|1.50|1.5"),
    ("{{printf \"%d\" 3}}", "3"),
    ("{{printf \"%T %T %T %T %T\" 1 1.0 \"x\" .l .m}}",
     "int float64 string []interface {} map[string]interface {}"),
    ("{{printf \"%5s|%-5s|%05d|%x|%X|%q\" \"a\" \"b\" 42 255 255 \"q\"}}", "    a|b    |00042|ff|FF|\"q\""),
    ("{{printf \"%s %d\" \"only\"}}", "only %!d(MISSING)"),
    ("{{printf \"%s\" \"a\" 1}}", "a%!(EXTRA int=1)"),
    ("{{printf \"%t %v\" true nil}}", "true <nil>"),
    ("{{printf \"%c%c\" 72 105}}", "Hi"),
    ("{{printf \"%e\" 123456.789}}", "1.234568e+05"),
    ("{{printf \"%8.3f|%-8.2f|%+d\" 3.14159 2.5 5}}", "   3.142|2.50    |+5"),
    ("{{printf \"%%\"}}", "%"),
    ("{{printf \"%!\"}}", "%!!(MISSING)"),
    ("{{printf \"x%\"}}", "x%!(NOVERB)"),
    ("{{printf \"%z\" 1}}", "%!z(int=1)"),
    ("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3"),
    ("{{println 1 \"a\"}}", "1 a\n"),
    ("{{print 1000000.0 123456.0 1e21 0.0001 0.00001}}", "1e+06 123456 1e+21 0.0001 1e-05"),
    ("{{1.0}} {{1e3}} {{0x1F}} {{0o17}} {{0b101}} {{'a'}} {{-7}} {{1_000}}", "1 1000 31 15 5 97 -7 1000"),
    ("{{\"\\t\\u00e9\"}}|{{`raw\\n`}}", "\té|raw\\n"),
    ("{{true}} {{false}}", "true false"),
    ("{{if .t}}yes{{else}}no{{end}}", "yes"),
    ("{{if .empty}}yes{{else}}no{{end}}", "no"),
    ("{{if .el}}yes{{else if .n}}n{{else}}no{{end}}", "n"),
    ("{{if .z}}yes{{else}}no{{end}}", "no"),
    ("{{if 0}}a{{else if 0.0}}b{{else if \"\"}}c{{else}}d{{end}}", "d"),
    ("{{with .s}}{{.}}!{{end}}", "hello!"),
    ("{{with .missing}}x{{else}}none{{end}}", "none"),
    ("{{with .missing}}x{{else with .s}}{{.}}{{end}}", "hello"),
    ("{{range .l}}<{{.}}>{{end}}", "<a><b><c>"),
    ("{{range $i, $e := .l}}{{$i}}={{$e}} {{end}}", "0=a 1=b 2=c "),
    ("{{range $k, $v := .m}}{{$k}}:{{$v}};{{end}}", "a:1;b:2;c:map[x:y];"),
    ("{{range .el}}x{{else}}empty{{end}}", "empty"),
    ("{{range .missing}}x{{else}}none{{end}}", "none"),
    ("{{range $e := .l}}{{if eq $e \"b\"}}{{break}}{{end}}{{$e}}{{end}}", "a"),
    ("{{range .l}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}", "ac"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{range $i := 2}}[{{$i}}]{{end}}", "[0][1]"),
    ("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}", "12"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{end}}{{$x}}", "1"),
    ("{{range $i, $e := .l}}{{end}}{{$.s}}", "hello"),
    ("{{with .m}}{{$.s}}-{{.a}}{{end}}", "hello-1"),
    ("a  {{- .s -}}  b", "ahellob"),
    ("a {{- /* comment */ -}} b", "ab"),
    ("{{/* comment */}}x", "x"),
    ("x\n  {{- .s}}", "xhello"),
    ("{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .s}}{{template \"T\" 1}}", "[hello][1]"),
    ("{{block \"B\" .n}}<{{.}}>{{end}}", "<3>"),
    ("{{template \"T\"}}{{define \"T\"}}{{.}}{{end}}", "<no value>"),
    ("{{.s | printf \"%s!\"}}", "hello!"),
    ("{{\"x\" | printf \"%s %s\" \"a\"}}", "a x"),
    ("{{(printf \"%s\" .s) | len}}", "5"),
    ("{{len .l}} {{len .m}} {{len .s}} {{len \"é\"}}", "3 3 5 2"),
    ("{{index .l 1}} {{index .m \"a\"}} {{index .m \"nokey\"}} {{index \"abc\" 1}}", "b 1 <no value> 98"),
    ("{{index .m \"c\" \"x\"}}", "y"),
    ("{{slice .l 1}} {{slice .l 1 2}} {{slice \"hello\" 1 3}}", "[b c] [b] el"),
    ("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}", "0 2 3 "),
    ("{{and .missing .missing.x}}", "<no value>"),
    ("{{or 1 .missing.x.y}}", "1"),
    ("{{not true}} {{not 0}} {{not .l}}", "false true false"),
    ("{{eq 1 1}} {{eq \"a\" \"b\"}} {{eq 1 2 3 1}} {{ne 1 2}} {{eq .n 3.0}}", "true false true true true"),
    ("{{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}", "true true true false"),
    ("{{eq .missing \"x\"}} {{eq .z nil}}", "false true"),
    ("{{html \"<a href='x'>&\\\"\"}}", "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"),
    ("{{js \"it's <b>\\\"=&\"}}", "it\\'s \\u003Cb\\u003E\\\"\\u003D\\u0026"),
    ("{{urlquery \"a b&c/d\"}}", "a+b%26c%2Fd"),
    ("{{html .missing}}", "&lt;no value&gt;"),
    ("{{print nil}}", "<nil>"),
    ("{{.s | len | printf \"%03d\"}}", "005"),
]


@pytest.mark.parametrize(("tmpl", "expected"), OUTPUT_CASES)
def test_output(tmpl: str, expected: str) -> None:
    assert render(tmpl, JSON, name="t") == expected


# (template, substring of Go's error)
ERROR_CASES = [
    ("{{eq .n 3}}", 'template: t:1:2: executing "t" at <eq .n 3>: error calling eq: incompatible types for comparison'),
    ("{{lt .l 1}}", "error calling lt: invalid type for comparison"),
    ("{{eq 1}}", "error calling eq: missing argument for comparison"),
    ("{{index .l 5}}", "error calling index: index out of range: 5"),
    ("{{index .l \"x\"}}", "error calling index: cannot index slice/array with type string"),
    ("{{index .m 1}}", "error calling index: value has type int; should be string"),
    ("{{index .n 1}}", "error calling index: can't index item of type float64"),
    ("{{len .n}}", "error calling len: len of type float64"),
    ("{{.z.x}}", "nil pointer evaluating interface {}.x"),
    ("{{.s.x}}", "can't evaluate field x in type string"),
    ("{{.l.x}}", "can't evaluate field x in type []interface {}"),
    ("{{.m.a 1}}", "a is not a method but has arguments"),
    ("{{nil}}", "nil is not a command"),
    ("{{printf 1}}", "expected string; found 1"),
    ("{{printf .n}}", "wrong type for value; expected string; got float64"),
    ("{{printf .missing}}", "invalid value; expected string"),
    ("{{len}}", "wrong number of args for len: want 1 got 0"),
    ("{{len 1 2}}", "wrong number of args for len: want 1 got 2"),
    ("{{template \"nope\"}}", 'at <{{template "nope"}}>: template "nope" not defined'),
    ("{{range .s}}{{end}}", "range can't iterate over hello"),
    ("{{range $i, $e := 3}}{{end}}", "can't use 3 to iterate over more than one variable"),
    ("{{$x := 1}}{{$x 2}}", "can't give argument to non-function $x"),
    ("{{1 2}}", "can't give argument to non-function 1"),
    ("{{99999999999999999999}}", "integer overflow"),
    ("line1\n{{.s.bad}}", 'template: t:2:4: executing "t" at <.s.bad>'),
    ("{{slice .l 2 1}}", "error calling slice: invalid slice index: 2 > 1"),
    ("{{fail \"boom\"}}", "error calling fail: boom"),
    ("{{trunc (add 1 2) \"abcdef\"}}", "wrong type for value; expected int; got int64"),
]


@pytest.mark.parametrize(("tmpl", "message"), ERROR_CASES)
def test_errors(tmpl: str, message: str) -> None:
    with pytest.raises(TemplateError) as exc:
        render(tmpl, JSON, name="t")
    assert message in str(exc.value)


# parse errors: Go reports `template: NAME:LINE: message`
PARSE_ERRORS = [
    ("{{.x", "template: t:1: unclosed action"),
    ("{{.x\n\n", "template: t:3: unclosed action started at t:1"),
    ("{{end}}", "template: t:1: unexpected {{end}}"),
    ("{{else}}", "template: t:1: unexpected {{else}}"),
    ("{{if .x}}", "template: t:1: unexpected EOF"),
    ("{{nofunc 1}}", 'template: t:1: function "nofunc" not defined'),
    ("{{$x}}", 'template: t:1: undefined variable "$x"'),
    ("{{if}}{{end}}", "template: t:1: missing value for if"),
    ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
    ("{{continue}}", "template: t:1: {{continue}} outside {{range}}"),
    ("{{.x | 3}}", "non executable command in pipeline stage 2"),
    ("{{/* x", "unclosed comment"),
    ("{{/* x */ .y}}", "comment ends before closing delimiter"),
    ("{{\"abc}}", "unterminated quoted string"),
    ("{{`abc}}", "unterminated raw quoted string"),
    ("{{3x}}", 'bad number syntax: "3x"'),
    ("{{(.x}}", "unclosed left paren"),
    ("{{.x)}}", "unexpected right paren"),
    ("{{.x#}}", "bad character U+0023 '#'"),
    ("{{\"a\".b}}", 'unexpected . after term "\\"a\\""'),
    ("{{range $a, $b, $c := .}}{{end}}", "too many declarations in range"),
    ("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}", 'template: multiple definition of template "a"'),
    ("{{with}}{{end}}", "missing value for with"),
    ("a\nb\n{{.x y}}", "template: t:3:"),
    ("{{\"\\q\"}}", "template: t:1: invalid syntax"),
]


@pytest.mark.parametrize(("tmpl", "message"), PARSE_ERRORS)
def test_parse_errors(tmpl: str, message: str) -> None:
    with pytest.raises(TemplateError) as exc:
        parse(tmpl, "t")
    assert message in str(exc.value)


# ---- Go structs: fields, methods with and without arguments, Stringers


@dataclass
class ObjectRef(GoStruct):
    Namespace: str
    Name: str

    def String(self) -> str:
        return f"{self.Namespace}/{self.Name}"


@dataclass
class ImageRef(GoStruct):
    Repo: str
    Tag: str

    def String(self) -> str:
        return f"{self.Repo}:{self.Tag}"

    def WithTag(self, tag: str) -> str:
        return f"{self.Repo}:{tag}"


@dataclass
class Updated(GoStruct):
    Images: list = field(default_factory=list)
    Files: dict = field(default_factory=dict)


@dataclass
class Plain:
    A: int
    b: str = "hidden"


DATA = {
    "AutomationObject": ObjectRef("flux-system", "podinfo"),
    "Updated": Updated([ImageRef("ghcr.io/x/app", "1.2.3"), ImageRef("nginx", "1.27")], {"a.yaml": 1}),
    "P": Plain(7),
}

STRUCT_CASES = [
    ("{{.AutomationObject}}", "flux-system/podinfo"),
    ("{{.AutomationObject.Name}}", "podinfo"),
    ("{{range .Updated.Images}}- {{.}}\n{{end}}", "- ghcr.io/x/app:1.2.3\n- nginx:1.27\n"),
    ("{{range .Updated.Images}}{{.Tag}} {{end}}", "1.2.3 1.27 "),
    ("{{(index .Updated.Images 0).WithTag \"2.0\"}}", "ghcr.io/x/app:2.0"),
    ("{{.Updated.Images}}", "[ghcr.io/x/app:1.2.3 nginx:1.27]"),
    ("{{.AutomationObject.String}}", "flux-system/podinfo"),
    ("{{printf \"%v|%+v|%s\" .P .P .AutomationObject}}", "{7 hidden}|{A:7 b:hidden}|flux-system/podinfo"),
    ("{{.P.A}}", "7"),
    ("{{range $f, $_ := .Updated.Files}}{{$f}}{{end}}", "a.yaml"),
]


@pytest.mark.parametrize(("tmpl", "expected"), STRUCT_CASES)
def test_structs(tmpl: str, expected: str) -> None:
    assert render(tmpl, DATA) == expected


@pytest.mark.parametrize(
    ("tmpl", "message"),
    [
        ("{{.P.b}}", "b is an unexported field of struct type main.Plain"),
        ("{{.P.Nope}}", "can't evaluate field Nope in type main.Plain"),
        ("{{.P.A 1}}", "A has arguments but cannot be invoked as function"),
        ("{{(index .Updated.Images 0).WithTag 2}}", "expected string; found 2"),
    ],
)
def test_struct_errors(tmpl: str, message: str) -> None:
    with pytest.raises(TemplateError) as exc:
        render(tmpl, DATA)
    assert message in str(exc.value)


def test_user_functions_and_reuse() -> None:
    def shout(s: str) -> str:
        return s.upper() + "!"

    t = parse("{{shout .}}", "t", {"shout": shout})
    assert t.execute("a") == "A!"
    assert t.execute("b") == "B!"
    with pytest.raises(TemplateError, match="wrong type for value; expected string; got int"):
        t.execute(1)


def test_nil_data() -> None:
    assert render("{{.}} {{.x}}", None) == "<no value> <no value>"


def test_define_only_renders_empty_and_execute_template() -> None:
    t = parse('{{define "a"}}A{{.}}{{end}}', "t")
    assert t.execute(None) == ""
    assert t.execute_template("a", 1) == "A1"


# exec_test.go's range-with-assignment rows (tVal.AI is []int{3, 4, 5}), and variations of them.
RANGE_ASSIGN_DATA = {"AI": [3, 4, 5], "List": ["a", "b"], "MSI": {"one": 1, "two": 2}}
RANGE_ASSIGN_CASES = [
    # issue56490: the assigned variable is not the top of the stack
    ("{{$i := 0}}{{$x := 0}}{{range $i = .AI}}{{end}}{{$i}}", "5"),
    # issue60801: two assigned variables get index then element
    ("{{$k := 0}}{{$v := 0}}{{range $k, $v = .AI}}{{$k}}={{$v}} {{end}}", "0=3 1=4 2=5 "),
    ("{{$i := 0}}{{$x := 0}}{{range $i = .List}}{{end}}{{$i}}", "b"),  # issue 9's report
    ("{{$x := 0}}{{range $x = .AI}}<{{$x}}>{{end}}after={{$x}}", "<3><4><5>after=5"),
    ("{{$k := \"\"}}{{$v := 0}}{{$y := 9}}{{range $k, $v = .MSI}}{{$k}}={{$v}} {{end}}{{$k}} {{$v}} {{$y}}",
     "one=1 two=2 two 2 9"),
    ("{{$i := 0}}{{$x := 0}}{{range $i = 3}}{{$x}}{{end}}{{$i}}", "0002"),
    ("{{range $x := .AI}}<{{$x}}>{{end}}", "<3><4><5>"),  # "range $x SI"
    ("{{range $x, $y := .AI}}<{{$x}}={{$y}}>{{end}}", "<0=3><1=4><2=5>"),  # "range $x $y SI"
    ("{{range $x := .AI}}<{{$foo:=$x}}{{$x}}>{{end}}", "<3><4><5>"),  # "declare in range"
]


@pytest.mark.parametrize(("template", "expected"), RANGE_ASSIGN_CASES)
def test_range_with_assignment(template: str, expected: str) -> None:
    assert render(template, RANGE_ASSIGN_DATA) == expected
