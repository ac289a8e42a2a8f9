"""config/source.py: the structure check (alias bombs, deep nesting) runs whenever it could find
something, and is skipped only for texts that provably hold neither."""

from __future__ import annotations

import pytest

from tagpilot.config.source import MAX_DEPTH, needs_structure_check, read_documents
from tagpilot.errors import ConfigError

PLAIN = ("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: a, namespace: x}\n"
         "spec:\n  image: ghcr.io/x/a\n  exclusionList: ['^dev-']\n")


def _block_mappings(depth: int) -> str:
    """`depth` mappings nested by indentation alone, one column per level: no bracket anywhere."""
    return "".join(f"{' ' * level}k:\n" for level in range(depth)) + f"{' ' * depth}v\n"


def _compact_sequences(depth: int) -> str:
    """`- - - ... x`: `depth` sequences nested on one line."""
    return "- " * depth + "x\n"


def test_an_ordinary_configuration_skips_the_check() -> None:
    assert not needs_structure_check(PLAIN * 50)


@pytest.mark.parametrize("text", [
    PLAIN + "  anchored: &a [1]\n",                  # an anchor: aliases could expand it
    _block_mappings(MAX_DEPTH + 10),                   # deep by indentation, no bracket
    _compact_sequences(MAX_DEPTH + 10),                # deep on one line
    "k: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10) + "\n",
    "k:\n" + "[\n" * (MAX_DEPTH + 10) + "]\n" * (MAX_DEPTH + 10),   # flow nesting over short lines
], ids=["anchor", "block-indent", "compact-sequences", "flow-one-line", "flow-many-lines"])
def test_anything_that_could_be_hostile_is_checked(text: str) -> None:
    assert needs_structure_check(text)


@pytest.mark.parametrize("text", [_block_mappings(MAX_DEPTH + 10), _compact_sequences(MAX_DEPTH + 10)],
                         ids=["block-indent", "compact-sequences"])
def test_deep_block_nesting_is_refused_with_its_line(text: str) -> None:
    with pytest.raises(ConfigError, match="nest") as caught:  # ours, or libyaml's own limit
        list(read_documents(text, "deep.yaml"))
    assert caught.value.location.file == "deep.yaml" and caught.value.location.line is not None


def test_the_bound_is_safe_just_below_the_limit() -> None:
    """The deepest text the skip allows still parses (nesting below MAX_DEPTH cannot crash)."""
    depth = MAX_DEPTH // 2 - 5
    text = _block_mappings(depth)
    assert not needs_structure_check(text)
    docs = list(read_documents(text, "ok.yaml"))
    assert docs and docs[0].data["k"]["k"]


def test_documents_read_as_pyyaml_reads_them() -> None:
    """Plain strings skip the constructor's bookkeeping (`_Loader.construct_object`); every other
    kind of node, and strings reached through anchors, aliases, merge keys or an explicit tag, must
    still come out exactly as `yaml.safe_load` gives them."""
    import yaml

    text = """\
base: &base {image: ghcr.io/acme/app, interval: 5m, replicas: 3, enabled: true}
spec:
  <<: *base
  name: &name frontend
  alias: *name
  quoted: "true"
  forced: !!str 123
  number: 0x1F
  when: 2024-01-02
  nothing: ~
  items: [a, 'b', "c", 1.5, null, {k: v}]
  nested: {list: [*name, *base]}
"""
    [document] = read_documents(text, "f.yaml")
    assert document.data == yaml.safe_load(text)
    assert document.data["spec"]["forced"] == "123" and document.data["spec"]["quoted"] == "true"
