"""Harbor's doublestar tag patterns (bmatcuk/doublestar Match semantics)."""

import pytest

from tagpilot.retention.doublestar import DoublestarError, compile_doublestar, doublestar_match


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("", "anything", True),  # Harbor: empty pattern matches everything
        ("**", "v1.2.3", True),
        ("*", "v1.2.3", True),
        ("*", "a/b", False),  # `*` stops at the separator
        ("**", "a/b", True),
        ("v*", "v1", True),
        ("v*", "release-1", False),
        ("{v*,release-*}", "release-2", True),  # the UI's comma list becomes an alternation
        ("{v*,release-*}", "main", False),
        ("{v*, release-*}", "release-2", False),  # a space is part of the alternative (Harbor #8861)
        ("a,b", "a,b", True),  # a comma outside braces is literal
        ("a{b,{c,d}}", "ad", True),
        ("?", "ab", False),
        ("v?.0", "v1.0", True),
        ("[0-9]*", "20260101", True),
        ("[^0-9]*", "20260101", False),
        ("[^0-9]*", "main", True),
        ("v1.0", "v1x0", False),  # `.` is literal
        ("\\*", "*", True),
        ("\\*", "x", False),
        ("master*", "master-7", True),
    ],
)
def test_match_table(pattern: str, name: str, expected: bool) -> None:
    assert doublestar_match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[abc", "{a,b", "abc\\", "[z-a]"])
def test_malformed_patterns_are_errors(pattern: str) -> None:
    with pytest.raises(DoublestarError):
        compile_doublestar(pattern)
