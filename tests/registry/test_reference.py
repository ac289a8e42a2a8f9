"""Image reference parsing against the Docker / go-containerregistry rules (tables of their outputs)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tagpilot.errors import InvalidReference
from tagpilot.registry.reference import Reference, parse_reference, parse_repository

D = "sha256:" + "a" * 64

# text -> (domain, path, tag, digest, str(), canonical_name)
VALID = [
    ("alpine", ("docker.io", "library/alpine", None, None)),
    ("alpine:3.19", ("docker.io", "library/alpine", "3.19", None)),
    ("library/alpine", ("docker.io", "library/alpine", None, None)),
    ("docker.io/alpine", ("docker.io", "library/alpine", None, None)),
    ("docker.io/library/alpine:latest", ("docker.io", "library/alpine", "latest", None)),
    ("index.docker.io/alpine", ("docker.io", "library/alpine", None, None)),
    ("index.docker.io/library/alpine", ("docker.io", "library/alpine", None, None)),
    ("stefanprodan/podinfo", ("docker.io", "stefanprodan/podinfo", None, None)),
    ("ghcr.io/stefanprodan/podinfo:6.5.0", ("ghcr.io", "stefanprodan/podinfo", "6.5.0", None)),
    ("127.0.0.1:5000/demo/app", ("127.0.0.1:5000", "demo/app", None, None)),
    ("127.0.0.1:5000/demo/app:v1", ("127.0.0.1:5000", "demo/app", "v1", None)),
    ("localhost/app", ("localhost", "app", None, None)),
    ("localhost:5000/app:1", ("localhost:5000", "app", "1", None)),
    ("localhost", ("docker.io", "library/localhost", None, None)),
    ("localhost:5000", ("docker.io", "library/localhost", "5000", None)),
    ("[::1]:5000/app", ("[::1]:5000", "app", None, None)),
    ("Registry.Example.COM/app", ("Registry.Example.COM", "app", None, None)),
    ("my-registry:443/a/b/c/d", ("my-registry:443", "a/b/c/d", None, None)),
    (f"alpine@{D}", ("docker.io", "library/alpine", None, D)),
    (f"alpine:3@{D}", ("docker.io", "library/alpine", "3", D)),
    (f"ghcr.io/x/y:t@{D}", ("ghcr.io", "x/y", "t", D)),
    ("a_b/c__d/e-f/g--h/i.j:T_ag-1.0", ("docker.io", "a_b/c__d/e-f/g--h/i.j", "T_ag-1.0", None)),
    ("busybox:_x", ("docker.io", "library/busybox", "_x", None)),
    ("x:" + "a" * 128, ("docker.io", "library/x", "a" * 128, None)),
    ("foo/bar:latest", ("docker.io", "foo/bar", "latest", None)),
    ("0/1", ("docker.io", "0/1", None, None)),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[t for t, _ in VALID])
def test_valid_references(text: str, expected: tuple) -> None:
    ref = parse_reference(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == expected


INVALID = [
    ("", "empty"),
    ("http://ghcr.io/x/y", "scheme"),
    ("https://index.docker.io/v1/alpine", "scheme"),
    ("Alpine", "lowercase"),
    ("ghcr.io/Stefan/podinfo", "lowercase"),
    ("Foo/bar", "lowercase"),
    ("a//b", "empty component"),
    ("ghcr.io/", "empty component"),
    ("ghcr.io/x/", "empty component"),
    ("/alpine", "empty component"),
    ("alpine:", "tag"),
    ("alpine:.x", "tag"),
    ("alpine:-x", "tag"),
    ("alpine:a/b", "host"),
    ("x:" + "a" * 129, "tag"),
    ("alpine@sha256:abc", "digest"),
    ("alpine@sha256:" + "A" * 64, "lowercase hex"),
    ("alpine@sha256:" + "a" * 63, "64 lowercase hex"),
    ("alpine@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("alpine@", "digest"),
    ("a" * 64, "image ID"),
    ("alp ine", "whitespace"),
    (" alpine", "whitespace"),
    ("foo_/bar", "path component"),
    ("foo/-bar", "path component"),
    ("foo/bar.", "path component"),
    ("foo/b___ar", "path component"),
    ("-host.io/x", "host"),
    ("host.io:abc/x", "host"),
    ("ghcr.io/" + "a" * 250, "longer than 255"),
    ("alpine:1@" + D + "@" + D, "digest"),
    ("@" + D, "empty"),
]


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[t[:40] for t, _ in INVALID])
def test_invalid_references(text: str, why: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    assert why in str(info.value)


def test_names_and_hosts() -> None:
    hub = parse_reference("alpine:3")
    assert hub.name == "docker.io/library/alpine"
    assert hub.canonical_name == "index.docker.io/library/alpine"
    assert hub.api_host == "index.docker.io"
    assert hub.is_docker_hub
    assert str(hub) == "docker.io/library/alpine:3"
    local = parse_reference(f"127.0.0.1:5000/demo/app:v1@{D}")
    assert local.name == "127.0.0.1:5000/demo/app"
    assert local.canonical_name == "127.0.0.1:5000/demo/app"
    assert local.api_host == "127.0.0.1:5000"
    assert not local.is_docker_hub
    assert str(local) == f"127.0.0.1:5000/demo/app:v1@{D}"


def test_docker_io_and_index_docker_io_are_equal() -> None:
    assert parse_reference("index.docker.io/library/alpine:1") == parse_reference("alpine:1")
    assert parse_reference("docker.io/alpine") == parse_reference("library/alpine")


def test_with_tag_and_digest() -> None:
    ref = parse_reference(f"ghcr.io/a/b:1@{D}")
    assert ref.with_tag("2") == Reference("ghcr.io", "a/b", "2", None)
    assert ref.repository() == Reference("ghcr.io", "a/b")
    assert ref.repository().with_digest(D).digest == D
    with pytest.raises(InvalidReference):
        ref.with_tag("-bad")
    with pytest.raises(InvalidReference):
        ref.with_digest("sha256:xyz")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ghcr.io/a/b:1.0", "should not contain a tag; remove ':1.0'"),
        (f"ghcr.io/a/b@{D}", "should not contain a digest"),
        ("https://ghcr.io/a/b", "should not start with URL scheme; remove 'https://'"),
        ("Ghcr/A", "lowercase"),
    ],
)
def test_parse_repository_rejects(text: str, why: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_repository(text)
    assert why in str(info.value)


def test_parse_repository_accepts_ports() -> None:
    ref = parse_repository("127.0.0.1:5000/demo/app")
    assert (ref.domain, ref.path, ref.tag) == ("127.0.0.1:5000", "demo/app", None)


@given(st.text(max_size=80))
def test_never_crashes_on_junk(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    # Whatever parses, round-trips through its own string form.
    assert parse_reference(str(ref)) == ref


_component = st.from_regex(r"\A[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}\Z")


@given(
    st.sampled_from(["", "ghcr.io/", "127.0.0.1:5000/", "localhost/", "docker.io/"]),
    st.lists(_component, min_size=1, max_size=3),
    st.one_of(st.none(), st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")),
)
def test_generated_valid_references_parse(prefix: str, parts: list[str], tag: str | None) -> None:
    # Without a registry prefix, a first component with a dot would itself be taken as the registry.
    assume(prefix or len(parts) == 1 or "." not in parts[0])
    text = prefix + "/".join(parts) + (f":{tag}" if tag else "")
    ref = parse_reference(text)
    assert ref.tag == tag
    assert ref.path.endswith("/".join(parts))
