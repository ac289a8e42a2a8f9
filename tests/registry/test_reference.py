"""Image reference parsing against the Docker / go-containerregistry rules (tables of their outputs)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tagpilot.errors import InvalidReference
from tagpilot.registry.reference import (
    Reference,
    is_digest,
    parse_reference,
    parse_repository,
    split_tag_or_digest,
)

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
    # the path alone is over 255 (since distribution/reference 0.6 the host does not count)
    ("ghcr.io/" + "a" * 256, "longer than 255"),
    ("a" * 250, "longer than 255"),  # docker.io/library/ + 250: the "library/" prefix is part of the path
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


# -- distribution/reference's own tables (v0.6+) ----------------------------------------------------
# TestReferenceParse (reference_test.go) runs the plain `Parse`, which does not normalise: a name
# without a host has domain "". `parse_reference` is `ParseNormalizedNamed`, so each upstream row is
# normalised here the way normalize.go's splitDockerDomain does (docker.io, library/ for one component).

F64 = "f" * 64
F128 = "f" * 128


def normalised(domain: str, repository: str) -> tuple[str, str]:
    path = repository[len(domain) + 1 :] if domain else repository
    if domain and ("." in domain or ":" in domain or domain == "localhost"):
        return domain, path
    path = repository  # an upstream "domain" without '.' or ':' is a Hub namespace once normalised
    return "docker.io", path if "/" in path else "library/" + path


# (input, domain, repository, tag, digest) exactly as upstream lists them
UPSTREAM_PARSE = [
    ("test_com", "", "test_com", None, None),
    ("test.com:tag", "", "test.com", "tag", None),
    ("test.com:5000", "", "test.com", "5000", None),
    ("test.com/repo:tag", "test.com", "test.com/repo", "tag", None),
    ("test:5000/repo", "test:5000", "test:5000/repo", None, None),
    ("test:5000/repo:tag", "test:5000", "test:5000/repo", "tag", None),
    (f"test:5000/repo@sha256:{F64}", "test:5000", "test:5000/repo", None, f"sha256:{F64}"),
    (f"test:5000/repo:tag@sha256:{F64}", "test:5000", "test:5000/repo", "tag", f"sha256:{F64}"),
    ("lowercase:Uppercase", "", "lowercase", "Uppercase", None),
    ("a/" * 127 + "a:tag-puts-this-over-max", "a", "a/" * 127 + "a", "tag-puts-this-over-max", None),
    ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux", None, None),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux",
     "some-long-tag", None),
    ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "b.gcr.io/test.example.com/my-app",
     "test.example.com", None),
    ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", None),
    (f"xn--7o8h.com/myimage:xn--7o8h.com@sha512:{F128}", "xn--7o8h.com", "xn--7o8h.com/myimage", "xn--7o8h.com",
     f"sha512:{F128}"),
    ("foo_bar.com:8080", "", "foo_bar.com", "8080", None),
    ("foo/foo_bar.com:8080", "foo", "foo/foo_bar.com", "8080", None),
    ("192.168.1.1", "", "192.168.1.1", None, None),
    ("192.168.1.1:tag", "", "192.168.1.1", "tag", None),
    ("192.168.1.1:5000", "", "192.168.1.1", "5000", None),
    ("192.168.1.1/repo", "192.168.1.1", "192.168.1.1/repo", None, None),
    ("192.168.1.1:5000/repo", "192.168.1.1:5000", "192.168.1.1:5000/repo", None, None),
    ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "192.168.1.1:5000/repo", "5050", None),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "[2001:db8::1]/repo", None, None),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "[2001:db8:1:2:3:4:5:6]/repo", "tag", None),
    ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", None, None),
    ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "tag", None),
    (f"[2001:db8::1]:5000/repo@sha256:{F64}", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", None,
     f"sha256:{F64}"),
    (f"[2001:db8::1]:5000/repo:tag@sha256:{F64}", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "tag",
     f"sha256:{F64}"),
    ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "[2001:db8::]:5000/repo", None, None),
    ("[::1]:5000/repo", "[::1]:5000", "[::1]:5000/repo", None, None),
    # v0.6: the 255 limit counts the path only, so a long host no longer pushes a name over it
    ("example.com/" + "a" * 255 + ":tag", "example.com", "example.com/" + "a" * 255, "tag", None),
]


@pytest.mark.parametrize(("text", "domain", "repository", "tag", "digest"), UPSTREAM_PARSE,
                         ids=[row[0][:50] for row in UPSTREAM_PARSE])
def test_upstream_reference_parse(text: str, domain: str, repository: str, tag: str | None,
                                  digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.domain, ref.path) == normalised(domain, repository)
    assert (ref.tag, ref.digest) == (tag, digest)


UPSTREAM_PARSE_ERRORS = [
    "",
    ":justtag",
    f"@sha256:{F64}",
    "repo@sha256:" + "f" * 34,  # digest.ErrDigestInvalidLength
    f"validname@invaliddigest:{F64}",  # digest.ErrDigestUnsupported
    "Uppercase:tag",
    "test:5000/Uppercase/lowercase:tag",
    "domain/" + "a" * 256 + ":tag",  # ErrNameTooLong (the path alone is 263)
    "aa/asdf$$^/aa",
    "[2001:db8::1]",
    "[2001:db8::1]:5000",
    "[2001:db8::1]:tag",
    "[fe80::1%eth0]:5000/repo",
    "[fe80::1%@invalidzone]:5000/repo",
]


@pytest.mark.parametrize("text", UPSTREAM_PARSE_ERRORS, ids=[t[:50] for t in UPSTREAM_PARSE_ERRORS])
def test_upstream_reference_parse_errors(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


# normalize_test.go: TestValidateReferenceName and TestValidateRemoteName (ParseNormalizedNamed)
UPSTREAM_VALID_NAMES = [
    "docker/docker", "library/debian", "debian", "docker.io/docker/docker", "docker.io/library/debian",
    "docker.io/debian", "index.docker.io/docker/docker", "index.docker.io/library/debian", "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/library/debian", "127.0.0.1:5000/debian", "192.168.0.1",
    "192.168.0.1:80", "192.168.0.1:8/debian", "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker", "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    # upstream also accepts "Docker/docker" and "DOCKER/docker" (an uppercase first component is taken
    # for a host); go-containerregistry, which Flux uses, rejects them and so do we (see INVALID above)
    "docker-rules/docker", "docker---rules/docker", "doc/docker", "d/docker", "jess/t", "dock__er/docker",
]

UPSTREAM_INVALID_NAMES = [
    "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker", "-docker.io/docker/docker",
    "docker///docker", "docker.io/docker/Docker", "docker.io/docker///docker", "[fc00::1]", "[fc00::1]:5000",
    "fc00::1:5000/debian", "[fe80::1%eth0]:5000/debian", "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "docker-/docker", "-docker-/docker", "____/____", "_docker/_docker", "dock..er/docker", "dock_.er/docker",
    "dock-.er/docker", "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
]


@pytest.mark.parametrize("text", UPSTREAM_VALID_NAMES)
def test_upstream_valid_names(text: str) -> None:
    ref = parse_reference(text)
    assert parse_reference(str(ref)) == ref


@pytest.mark.parametrize("text", UPSTREAM_INVALID_NAMES, ids=[t[:50] for t in UPSTREAM_INVALID_NAMES])
def test_upstream_invalid_names(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


# normalize_test.go: TestParseRepositoryInfo (familiar, full and ambiguous spellings of one name) and
# TestNormalizedSplitHostname; the two rows with an uppercase host ("Foo/bar") are left out as above.
REPOSITORY_INFO = [
    ("fooo/bar", ["fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar"], "docker.io"),
    ("library/ubuntu", ["ubuntu", "docker.io/library/ubuntu", "library/ubuntu"], "docker.io"),
    ("nonlibrary/ubuntu", ["nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu"], "docker.io"),
    ("other/library", ["other/library", "docker.io/other/library"], "docker.io"),
    ("private/moonbase", ["127.0.0.1:8000/private/moonbase"], "127.0.0.1:8000"),
    ("privatebase", ["127.0.0.1:8000/privatebase"], "127.0.0.1:8000"),
    ("private/moonbase", ["example.com/private/moonbase"], "example.com"),
    ("privatebase", ["example.com/privatebase"], "example.com"),
    ("private/moonbase", ["example.com:8000/private/moonbase"], "example.com:8000"),
    ("privatebasee", ["example.com:8000/privatebasee"], "example.com:8000"),
    ("library/ubuntu-12.04-base", ["ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base",
                                   "index.docker.io/library/ubuntu-12.04-base"], "docker.io"),
    ("library/foo", ["foo", "docker.io/library/foo", "docker.io/foo"], "docker.io"),
    ("library/foo/bar", ["library/foo/bar", "docker.io/library/foo/bar"], "docker.io"),
    ("store/foo/bar", ["store/foo/bar", "docker.io/store/foo/bar"], "docker.io"),
    # TestNormalizedSplitHostname
    ("foo", ["test.com/foo"], "test.com"),
    ("test_com/foo", ["test_com/foo"], "docker.io"),
    ("docker/migrator", ["docker/migrator"], "docker.io"),
    ("foo", ["test.com:8080/foo"], "test.com:8080"),
    ("foo", ["test-com:8080/foo"], "test-com:8080"),
    ("library/foo", ["foo"], "docker.io"),
    ("foo", ["xn--n3h.com/foo"], "xn--n3h.com"),
    ("foo", ["xn--n3h.com:18080/foo"], "xn--n3h.com:18080"),
    ("library/foo", ["docker.io/foo", "docker.io/library/foo"], "docker.io"),
    ("library/foo/bar", ["docker.io/library/foo/bar"], "docker.io"),
]


@pytest.mark.parametrize(("path", "spellings", "domain"), REPOSITORY_INFO, ids=[r[1][0] for r in REPOSITORY_INFO])
def test_upstream_repository_info(path: str, spellings: list[str], domain: str) -> None:
    for text in spellings:
        ref = parse_reference(text)
        assert (ref.domain, ref.path) == (domain, path), text
        assert ref.name == f"{domain}/{path}"  # upstream's FullName


def test_upstream_tag_and_digest() -> None:
    # TestParseReferenceWithTagAndDigest, TestParseAnyReference (named rows), TestInvalidReferenceComponents
    short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    assert str(parse_reference(short)) == "docker.io/library/" + short
    redis = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
    for text, full in [("redis", "docker.io/library/redis"), ("redis:latest", "docker.io/library/redis:latest"),
                       (f"redis@{redis}", f"docker.io/library/redis@{redis}"),
                       ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
                       (f"dmcgowan/myapp@{redis}", f"docker.io/dmcgowan/myapp@{redis}"),
                       (redis[7:-1], "docker.io/library/" + redis[7:-1]), ("dbcc1", "docker.io/library/dbcc1")]:
        assert str(parse_reference(text)) == full
    with pytest.raises(InvalidReference):
        parse_reference("-foo")
    with pytest.raises(InvalidReference):
        parse_reference("busybox").with_tag("-foo")
    with pytest.raises(InvalidReference):
        parse_reference("busybox").with_digest("foo")


# -- what follows a repository: a tag or a digest (the client no longer tells them apart by hand) -------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.0", ("1.0", None)), (D, (None, D)), ("sha512:" + "0" * 128, (None, "sha512:" + "0" * 128))],
)
def test_split_tag_or_digest(text: str, expected: tuple) -> None:
    assert split_tag_or_digest(text, "ghcr.io/a/b") == expected
    assert is_digest(text) == (expected[1] is not None)


@pytest.mark.parametrize(("text", "why"), [("a/b", "tag 'a/b'"), ("sha256:../../x", "digest"), (".x", "tag"),
                                           ("sha256:" + "A" * 64, "lowercase hex")])
def test_split_tag_or_digest_rejects(text: str, why: str) -> None:
    with pytest.raises(InvalidReference) as info:
        split_tag_or_digest(text, "ghcr.io/a/b")
    assert why in str(info.value) and "ghcr.io/a/b" in str(info.value)
    assert not is_digest(text)


def test_parsing_is_cached_and_rejections_are_not() -> None:
    """`parse_reference` keeps what it parsed (a Reference is immutable); a rejected text, or a value
    that is not a string at all, raises every time with the same message."""
    first = parse_reference("registry.example.com:5000/team/app:1.0")
    assert parse_reference("registry.example.com:5000/team/app:1.0") is first
    for _ in range(2):
        with pytest.raises(InvalidReference, match="must be lowercase"):
            parse_reference("registry.example.com/Team/app")
    for value in (None, ["a/b"], {"image": "a/b"}):
        with pytest.raises(InvalidReference, match="the reference is empty"):
            parse_reference(value)  # type: ignore[arg-type]
