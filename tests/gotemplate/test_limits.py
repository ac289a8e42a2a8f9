"""Output and step limits: a template from a config file cannot exhaust memory or time (issue 9)."""

from __future__ import annotations

import tracemalloc

import pytest

from tagpilot.gotemplate import DEFAULT_LIMITS, Limits, TemplateExecError, parse, render
from tagpilot.gotemplate.gofmt import sprintf


def test_defaults() -> None:
    assert Limits(max_output=1 << 20, max_steps=1_000_000) == DEFAULT_LIMITS


def test_until_with_a_huge_count_fails_before_building_the_list() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateExecError) as e:
            render("{{range until 30000000}}x{{end}}", {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "error calling until: template execution exceeds 1000000 steps" in str(e.value)
    assert peak < 32 * 1024 * 1024  # the list of 30M ints alone would be ~1 GB


def test_output_cap_trips_with_a_clear_message() -> None:
    with pytest.raises(TemplateExecError) as e:
        render("{{range $i := 3000000}}{{$i}}{{end}}", {})
    assert "template output exceeds 1048576 bytes" in str(e.value)
    assert str(e.value).startswith('template: msg:1:')  # located like any execution error


def test_range_over_a_huge_int_is_stopped_by_the_step_limit() -> None:
    with pytest.raises(TemplateExecError, match=r"at <\{\{range 30000000\}\}\{\{end\}\}>: template execution "
                                                r"exceeds 1000000 steps"):
        render("{{range 30000000}}{{end}}", {})


def test_limits_are_configurable_by_the_caller() -> None:
    tpl = parse("{{range .}}{{.}}{{end}}")
    assert tpl.execute(list(range(10)), Limits(max_output=10)) == "0123456789"
    with pytest.raises(TemplateExecError, match="template output exceeds 9 bytes"):
        tpl.execute(list(range(10)), Limits(max_output=9))
    with pytest.raises(TemplateExecError, match="template execution exceeds 5 steps"):
        tpl.execute(list(range(10)), Limits(max_steps=5))
    big = "x" * (2 << 20)
    assert render("{{.}}", big, limits=Limits(max_output=4 << 20)) == big


def test_output_is_counted_in_utf8_bytes() -> None:
    assert render("{{.}}", "é" * 5, limits=Limits(max_output=10)) == "é" * 5
    with pytest.raises(TemplateExecError, match="exceeds 9 bytes"):
        render("{{.}}", "é" * 5, limits=Limits(max_output=9))
    with pytest.raises(TemplateExecError, match="exceeds 9 bytes"):
        render("ééééé", None, limits=Limits(max_output=9))


def test_called_templates_share_the_budget() -> None:
    text = '{{define "t"}}{{.}}{{end}}{{template "t" "abcdef"}}{{template "t" "ghijkl"}}'
    assert render(text, None, limits=Limits(max_output=12)) == "abcdefghijkl"
    with pytest.raises(TemplateExecError, match="exceeds 11 bytes"):
        render(text, None, limits=Limits(max_output=11))


@pytest.mark.parametrize(
    ("text", "func"),
    [('{{repeat 100000000 "x"}}', "repeat"), ('{{indent 100000000 "x"}}', "indent"),
     ('{{nindent 100000000 "x"}}', "nindent")],
)
def test_functions_refuse_values_larger_than_the_output_limit(text: str, func: str) -> None:
    with pytest.raises(TemplateExecError, match=f"error calling {func}: result of .* bytes exceeds the "
                                                "template output limit of 1048576 bytes"):
        render(text, None)


def test_small_until_and_repeat_still_work() -> None:
    assert render('{{range until 3}}{{.}}{{end}}|{{repeat 3 "ab"}}|{{len (until 1000)}}', None) == "012|ababab|1000"


def test_limits_do_not_leak_into_later_renders() -> None:
    with pytest.raises(TemplateExecError):
        render("{{range until 5}}{{end}}", None, limits=Limits(max_steps=2))
    assert render("{{len (until 500000)}}", None) == "500000"


# fmt refuses widths and precisions past 1e6 (tooLarge), as Go does: no gigabyte padding.
@pytest.mark.parametrize(
    ("fmt", "args", "expected"),
    [
        ("%099999999d", (1,), "%!(NOVERB)%!(EXTRA int=1)"),
        ("%.99999999f", (1.0,), "%!(NOVERB)%!(EXTRA float64=1)"),
        ("%*d", (100000000, 1), "%!(BADWIDTH)1"),
        ("%.*d", (100000000, 1), "%!(BADPREC)1"),
        ("%.*d", (-1, 5), "%!(BADPREC)5"),
        ("%*d", (-3, 5), "5  "),
        ("%.*f", (2, 3.14159), "3.14"),
        ("%1000000d|", (1,), " " * 999999 + "1|"),
    ],
)
def test_printf_width_and_precision_bounds(fmt: str, args: tuple, expected: str) -> None:
    assert sprintf(fmt, *args) == expected
