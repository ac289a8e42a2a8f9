"""tagpilot.golang: Go's ParseFloat, FormatFloat and encoding/json, and the ports that share them.

Expected values are Go's: rows of strconv's atof_test.go / ftoa_test.go and encoding/json's
encode.go behaviour (Go >= 1.22).
"""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.engine.scan import go_json_marshal_strings
from tagpilot.events.filters import apply_filters
from tagpilot.events.paths import dumps, get, go_parse_float, loads
from tagpilot.golang import (
    ERR_RANGE,
    ERR_SYNTAX,
    NumError,
    format_float,
    json_float,
    json_string,
    parse_float,
    parse_float_or_none,
)
from tagpilot.gotemplate import TemplateError, render, to_json
from tagpilot.policy.gonum import parse_go_float

INF = math.inf
S, R = ERR_SYNTAX, ERR_RANGE

# (input, value Go returns, error reason or None) — from strconv/atof_test.go
PARSE_FLOAT = [
    ("", 0.0, S),
    ("1", 1.0, None),
    ("+1", 1.0, None),
    ("1x", 0.0, S),
    ("1.1.", 0.0, S),
    ("1e23", 1e23, None),
    ("1E23", 1e23, None),
    ("100000000000000000000000", 1e23, None),
    ("1e-100", 1e-100, None),
    ("123456700", 1.234567e08, None),
    ("99999999999999974834176", 9.999999999999997e22, None),
    ("-1", -1.0, None),
    ("-0.1", -0.1, None),
    ("1e-20", 1e-20, None),
    ("625e-3", 0.625, None),
    (".5", 0.5, None),
    ("5.", 5.0, None),
    ("007", 7.0, None),
    # hexadecimal: the p exponent is required
    ("0x1p0", 1.0, None),
    ("0x1p1", 2.0, None),
    ("0x1p-1", 0.5, None),
    ("0x1ep-1", 15.0, None),
    ("-0x1ep-1", -15.0, None),
    ("-0x1_ep-1", -15.0, None),
    ("0x1p-200", 6.223015277861142e-61, None),
    ("0x1p200", 1.6069380442589903e60, None),
    ("0x1fFe2.p0", 131042.0, None),
    ("0x1fFe2.P0", 131042.0, None),
    ("-0x2p3", -16.0, None),
    ("0x0.fp4", 15.0, None),
    ("0x0.fp0", 0.9375, None),
    ("0x1e2", 0.0, S),
    ("1p2", 0.0, S),
    ("0x", 0.0, S),
    ("0x1", 0.0, S),
    ("0x.p1", 0.0, S),
    ("0x1p", 0.0, S),
    # specials: sign allowed on inf only
    ("inf", INF, None),
    ("-Inf", -INF, None),
    ("+INF", INF, None),
    ("-Infinity", -INF, None),
    ("+INFINITY", INF, None),
    ("Infinity", INF, None),
    ("+nan", 0.0, S),
    ("-NaN", 0.0, S),
    ("infinit", 0.0, S),
    ("infx", 0.0, S),
    # largest float64 and overflow: ±Inf together with ErrRange
    ("1.7976931348623157e308", 1.7976931348623157e308, None),
    ("-1.7976931348623157e308", -1.7976931348623157e308, None),
    ("1.7976931348623158e308", 1.7976931348623157e308, None),
    ("1.7976931348623159e308", INF, R),
    ("-1.7976931348623159e308", -INF, R),
    ("1e308", 1e308, None),
    ("2e308", INF, R),
    ("1e400", INF, R),
    ("-1e400", -INF, R),
    ("1e+4294967296", INF, R),
    ("0x1p1024", INF, R),
    ("-0x1p1024", -INF, R),
    ("0x1.fffffffffffffp1023", 1.7976931348623157e308, None),
    # underflow is not an error
    ("1e-350", 0.0, None),
    ("1e-4294967296", 0.0, None),
    ("2e-324", 0.0, None),
    ("3e-324", 5e-324, None),
    ("4.940656458412465441765687928682213723651e-324", 5e-324, None),
    # underscores: between digits, or after a base prefix
    ("1_23.50_0_0e+1_2", 1.235e14, None),
    ("1_000", 1000.0, None),
    ("-_123.5e+12", 0.0, S),
    ("+_123.5e+12", 0.0, S),
    ("_123.5e+12", 0.0, S),
    ("1__23.5e+12", 0.0, S),
    ("123_.5e+12", 0.0, S),
    ("123._5e+12", 0.0, S),
    ("123.5_e+12", 0.0, S),
    ("123.5__0e+12", 0.0, S),
    ("123.5e_+12", 0.0, S),
    ("123.5e+_12", 0.0, S),
    ("123.5e_-12", 0.0, S),
    ("123.5e-_12", 0.0, S),
    ("123.5e+1__2", 0.0, S),
    ("123.5e+12_", 0.0, S),
    ("0x_1_2.3_4_5p+1_2", 74565.0, None),
    ("-_0x12.345p+12", 0.0, S),
    ("+_0x12.345p+12", 0.0, S),
    ("_0x12.345p+12", 0.0, S),
    ("0x__12.345p+12", 0.0, S),
    ("0x1__2.345p+12", 0.0, S),
    ("0x12_.345p+12", 0.0, S),
    ("0x12._345p+12", 0.0, S),
    ("0x12.3__45p+12", 0.0, S),
    ("0x12.345_p+12", 0.0, S),
    ("0x12.345p_+12", 0.0, S),
    ("0x12.345p+_12", 0.0, S),
    ("0x12.345p_-12", 0.0, S),
    ("0x12.345p-_12", 0.0, S),
    ("0x12.345p+1__2", 0.0, S),
    ("0x12.345p+12_", 0.0, S),
    # what Python's float() takes and Go does not
    (" 1", 0.0, S),
    ("1 ", 0.0, S),
    ("\u0661", 0.0, S),  # ARABIC-INDIC DIGIT ONE
    ("-", 0.0, S),
    (".", 0.0, S),
    ("e1", 0.0, S),
    ("1e", 0.0, S),
    ("1e+", 0.0, S),
]


@pytest.mark.parametrize(("text", "value", "reason"), PARSE_FLOAT)
def test_parse_float_matches_go(text: str, value: float, reason: str | None) -> None:
    got, err = parse_float(text)
    assert got == value
    assert (err.err if err is not None else None) == reason
    assert parse_float_or_none(text) == (value if reason is None else None)


def test_parse_float_signed_zero_and_nan() -> None:
    assert math.copysign(1.0, parse_float("-0")[0]) == -1.0
    for text in ("NaN", "nan", "nAn"):
        value, err = parse_float(text)
        assert math.isnan(value) and err is None


def test_num_error_text_is_gos() -> None:
    assert str(parse_float("1e400")[1]) == 'strconv.ParseFloat: parsing "1e400": value out of range'
    assert str(parse_float("abc")[1]) == 'strconv.ParseFloat: parsing "abc": invalid syntax'
    err = parse_float("a\nb")[1]
    assert isinstance(err, NumError) and str(err) == 'strconv.ParseFloat: parsing "a\\nb": invalid syntax'


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_formatted_float_parses_back(x: float) -> None:
    for fmt in "efg":
        assert parse_float(format_float(x, fmt, -1)) == (x, None)
    assert parse_float(json_float(x)) == (x, None)
    assert parse_float(float.hex(x)) == (x, None)


@given(st.text(max_size=24))
def test_parse_float_never_crashes(text: str) -> None:
    value, err = parse_float(text)
    assert isinstance(value, float)
    if err is not None:
        assert err.err in (S, R)
        assert value == 0.0 if err.err == S else math.isinf(value)


@given(st.from_regex(r"[+-]?[0-9]{1,30}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True))
def test_plain_decimals_agree_with_correctly_rounded_float(text: str) -> None:
    value, err = parse_float(text)
    expected = float(text)
    assert value == expected
    assert (err is not None) == math.isinf(expected)


FORMAT_FLOAT = [
    (1e21, "g", "1e+21"),
    (1e6, "g", "1e+06"),
    (123456.0, "g", "123456"),
    (0.0001, "g", "0.0001"),
    (0.00001, "g", "1e-05"),
    (-0.0, "g", "-0"),
    (1.5, "e", "1.5e+00"),
    (1e-7, "f", "0.0000001"),
    (float(2**60), "f", "1152921504606847000"),
    (INF, "g", "+Inf"),
    (-INF, "f", "-Inf"),
    (math.nan, "g", "NaN"),
]


@pytest.mark.parametrize(("value", "fmt", "expected"), FORMAT_FLOAT)
def test_format_float_shortest(value: float, fmt: str, expected: str) -> None:
    assert format_float(value, fmt, -1) == expected


JSON_FLOATS = [
    (3.0, "3"),
    (0.1, "0.1"),
    (1e20, "100000000000000000000"),
    (1e21, "1e+21"),
    (1e-6, "0.000001"),
    (1e-7, "1e-7"),
    (1.5e-5, "0.000015"),
    (1e-300, "1e-300"),
    (-0.0, "-0"),
    (float(2**60), "1152921504606847000"),
]


@pytest.mark.parametrize(("value", "expected"), JSON_FLOATS)
def test_json_float(value: float, expected: str) -> None:
    assert json_float(value) == expected


def test_json_float_refuses_non_finite() -> None:
    for value, text in ((math.nan, "NaN"), (INF, "+Inf"), (-INF, "-Inf")):
        with pytest.raises(ValueError, match=f"json: unsupported value: {re.escape(text)}"):
            json_float(value)


JSON_STRINGS = [
    ("plain", True, '"plain"'),
    ("<a&b>", True, '"\\u003ca\\u0026b\\u003e"'),
    ("<a&b>", False, '"<a&b>"'),
    ('"\\', True, '"\\"\\\\"'),
    ("\b\f\n\r\t", True, '"\\b\\f\\n\\r\\t"'),
    ("\x00\x1f\x7f", True, '"\\u0000\\u001f\x7f"'),
    ("\u2028\u2029", False, '"\\u2028\\u2029"'),
    ("\ud800x", True, '"\\ufffdx"'),
    ("é😀", True, '"é😀"'),
]


@pytest.mark.parametrize(("text", "escape_html", "expected"), JSON_STRINGS)
def test_json_string(text: str, escape_html: bool, expected: str) -> None:
    assert json_string(text, escape_html) == expected


no_surrogates = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(no_surrogates)
def test_json_string_is_python_json_plus_gos_extra_escapes(text: str) -> None:
    # what engine/scan.py computed before it shared the encoder: the scan revision must not move
    expected = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        expected = expected.replace(char, escape)
    assert json_string(text) == expected
    assert json.loads(json_string(text, escape_html=False)) == text


# ---------------------------------------------------------------- the callers


def test_policy_parse_go_float_refuses_every_error() -> None:
    assert parse_go_float("1e400") is None
    assert parse_go_float("0x1._8p0") is None  # was accepted by the policy's own regex; Go refuses
    assert parse_go_float("0x_1p0") == 1.0


def test_paths_go_parse_float_reports_range_errors() -> None:
    # Argo's data filter fails on strconv.ParseFloat's error, range errors included
    assert go_parse_float("1e400") is None
    assert go_parse_float("+nan") is None
    assert go_parse_float("1_000") == 1000.0
    assert go_parse_float("0x_1p0") == 1.0


def test_data_filter_value_out_of_range_is_an_error() -> None:
    event = loads('{"body": {"count": 3}}')
    res = apply_filters({"data": [{"path": "body.count", "type": "number", "value": ["1e400"],
                                   "comparator": "<"}]}, event)
    assert res.passed is False
    assert len(res.errors) == 1 and 'strconv.ParseFloat: parsing "1e400"' in res.errors[0]


def test_gjson_keeps_the_value_go_returns_with_the_error() -> None:
    # gjson calls ParseFloat and ignores the error: ±Inf on overflow, 0 on bad syntax
    doc = loads('{"big": "1e400", "neg": "-1e400", "bad": "+nan", "us": "1_5", "xs": [{"v": 1}, {"v": 2}]}')
    assert get(doc, "big").float() == INF
    assert get(doc, "neg").float() == -INF
    assert get(doc, "bad").float() == 0.0
    assert get(doc, "us").float() == 15.0
    assert get(doc, "xs.#(v<1e400)#.v").raw == "[1,2]"
    assert get(doc, "xs.#(v>1e400)#.v").raw == "[]"


def test_paths_dumps_python_floats_like_json_marshal() -> None:
    assert dumps({"a": 1e-7, "b": 2.0**60, "c": -0.0, "d": 3.0, "e": 0.5}) == (
        '{"a":1e-7,"b":1152921504606847000,"c":-0,"d":3,"e":0.5}'
    )
    assert get({"a": 1.5e-5}, "a").raw == "0.000015"
    assert dumps(loads('{"n": 1.50e+00}')) == '{"n":1.50e+00}'  # source text kept


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{1_0.5}}", "10.5"),
        ("{{0x1.8p1}}", "3"),
        ("{{1e3}}", "1000"),
        ('{{toJson "\\b<"}}', '"\\b\\u003c"'),
        ('{{toRawJson "\\b<"}}', '"\\b<"'),
    ],
)
def test_template_numbers_and_json(template: str, expected: str) -> None:
    assert render(template, {}) == expected


@pytest.mark.parametrize("template", ["{{0x1.8}}", "{{1e400}}", "{{1e400i}}"])
def test_template_number_literals_go_refuses(template: str) -> None:
    with pytest.raises(TemplateError, match="illegal number syntax"):
        render(template, {})


def test_to_json_uses_shared_encoders() -> None:
    assert to_json({"b": 1e-7, "a": "<\u2028>"}) == '{"a":"\\u003c\\u2028\\u003e","b":1e-7}'


def test_scan_marshal_strings() -> None:
    assert go_json_marshal_strings(["a<b", "\u2028", "é"]) == '["a\\u003cb","\\u2028","é"]'.encode()
