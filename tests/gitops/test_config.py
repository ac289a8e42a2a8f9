"""GitRepository / ImageUpdateAutomation models, label selectors, credentials handling (pure parts)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from tagpilot.config.core import Secret
from tagpilot.config.flux_automation import ImageUpdateAutomation, LabelSelector, selector_matches
from tagpilot.config.flux_source import GitRepository
from tagpilot.gitops import CheckoutRef, GitAuth, Redactor, auth_from_secret
from tagpilot.gitops.auth import credential_env, ensure_askpass

GIT_REPO = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "GitRepository",
    "metadata": {"name": "fleet", "namespace": "flux-system"},
    "spec": {"url": "https://example.org/fleet.git", "interval": "1m", "ref": {"branch": "main"}},
}

AUTOMATION = {
    "apiVersion": "image.toolkit.fluxcd.io/v1",
    "kind": "ImageUpdateAutomation",
    "metadata": {"name": "fleet", "namespace": "flux-system"},
    "spec": {
        "interval": "30m",
        "sourceRef": {"kind": "GitRepository", "name": "fleet"},
        "git": {
            "checkout": {"ref": {"branch": "main"}},
            "commit": {
                "author": {"name": "fluxcdbot", "email": "fluxcdbot@users.noreply.github.com"},
                "signingKey": {"secretRef": {"name": "signing"}},
                "messageTemplate": "{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}",
                "messageTemplateValues": {"env": "prod"},
            },
            "push": {"branch": "auto", "options": {"merge_request.create": "", "merge_request.target": "main"}},
        },
        "update": {"path": "./clusters/prod", "strategy": "Setters"},
        "policySelector": {"matchLabels": {"app": "web"}},
    },
}


def _with(doc: dict, path: tuple[str, ...], value: object) -> dict:
    import copy

    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


def test_git_repository_defaults() -> None:
    repo = GitRepository.model_validate(GIT_REPO)
    assert repo.spec.timeout_seconds == 60
    assert repo.spec.unsupported_fields() == []
    assert CheckoutRef.from_spec(repo.spec.ref) == CheckoutRef(branch="main")
    assert CheckoutRef.from_spec(None) == CheckoutRef(branch="master")  # Flux's default


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (("spec", "interval"), None, "interval"),
        (("spec", "url"), "ftp://example.org/x", "scheme 'ftp'"),
        (("spec", "url"), "https://u:p@example.org/x", "must not contain a password"),
        (("spec", "ref"), {"commit": "not-hex"}, "hexadecimal"),
        (("spec", "unknownField"), 1, "Extra inputs"),
    ],
)
def test_git_repository_invalid(path: tuple[str, ...], value: object, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        GitRepository.model_validate(_with(GIT_REPO, path, value))


@pytest.mark.parametrize(
    "url", ["https://example.org/x", "http://h/x", "ssh://git@h/x", "git://h/x", "file:///srv/x", "git@github.com:o/r"]
)
def test_git_repository_urls(url: str) -> None:
    GitRepository.model_validate(_with(GIT_REPO, ("spec", "url"), url))


def test_unsupported_fields_are_named() -> None:
    doc = _with(GIT_REPO, ("spec", "verify"), {"mode": "HEAD", "secretRef": {"name": "pgp"}})
    doc["spec"]["recurseSubmodules"] = True
    assert GitRepository.model_validate(doc).spec.unsupported_fields() == ["spec.recurseSubmodules", "spec.verify"]


def test_automation_v1() -> None:
    auto = ImageUpdateAutomation.model_validate(AUTOMATION)
    assert auto.template_data_version == "v1"
    assert auto.spec.update_path == "./clusters/prod"
    assert auto.spec.git is not None and auto.spec.git.push is not None
    assert auto.spec.git.push.option_list() == ["merge_request.create", "merge_request.target=main"]
    assert auto.spec.git.commit.signing_key is not None and auto.spec.git.commit.signing_key.type == "gpg"
    assert auto.spec.push_targets("main") == ("auto", None)


@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
def test_automation_older_versions(version: str) -> None:
    doc = _with(AUTOMATION, ("apiVersion",), f"image.toolkit.fluxcd.io/{version}")
    doc = _with(doc, ("spec", "update"), None)
    auto = ImageUpdateAutomation.model_validate(doc)
    assert auto.template_data_version == "v1beta"
    assert auto.spec.update.strategy == "Setters" and auto.spec.update_path == "."


@pytest.mark.parametrize(
    ("push", "checkout", "expected"),
    [
        (None, "main", ("main", None)),
        ({"branch": "auto"}, "main", ("auto", None)),
        ({"refspec": "HEAD:refs/for/main"}, "main", (None, "HEAD:refs/for/main")),
        ({"branch": "b", "refspec": "refs/heads/b:refs/heads/c"}, None, ("b", "refs/heads/b:refs/heads/c")),
    ],
)
def test_push_targets(push: dict | None, checkout: str | None, expected: tuple) -> None:
    doc = _with(AUTOMATION, ("spec", "git", "push"), push)
    assert ImageUpdateAutomation.model_validate(doc).spec.push_targets(checkout) == expected


def test_push_targets_tag_checkout_without_branch() -> None:
    doc = _with(AUTOMATION, ("spec", "git", "push"), None)
    with pytest.raises(ValueError, match=r"push\.branch is required"):
        ImageUpdateAutomation.model_validate(doc).spec.push_targets(None)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"sourceRef": {"kind": "Bucket", "name": "x"}}, "GitRepository"),
        ({"update": {"strategy": "Other"}}, "Setters"),
        ({"policySelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}, "non-empty values"),
        ({"policySelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}, "no values"),
        ({"git": {"commit": {"author": {"name": "no email"}}}}, "email"),
        ({"git": {"commit": {"author": {"email": "a@b"}, "signingKey": {"secretRef": {"name": "s"}, "type": "x"}}}},
         "gpg"),
    ],
)  # fmt: skip
def test_automation_invalid(spec: dict, error: str) -> None:
    doc = _with(AUTOMATION, ("spec",), {**AUTOMATION["spec"], **spec})
    with pytest.raises(ValidationError, match=error):
        ImageUpdateAutomation.model_validate(doc)


SELECTOR_TABLE = [
    # selector, labels, matches (Kubernetes labels.Selector semantics)
    (None, {}, True),
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
    ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
    ({"matchLabels": {"app": "web"}}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": ""}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": "x"}, False),
    (
        {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
        {"app": "web", "env": "dev"},
        False,
    ),
]


@pytest.mark.parametrize(("selector", "labels", "expected"), SELECTOR_TABLE)
def test_selector_matches(selector: dict | None, labels: dict[str, str], expected: bool) -> None:
    parsed = None if selector is None else LabelSelector.model_validate(selector)
    assert selector_matches(parsed, labels) is expected


_label = st.sampled_from(["a", "b", "c"])
_labels = st.dictionaries(_label, st.sampled_from(["1", "2", ""]), max_size=3)


@given(labels=_labels, key=_label, values=st.lists(st.sampled_from(["1", "2", ""]), min_size=1, max_size=3))
def test_selector_complements(labels: dict[str, str], key: str, values: list[str]) -> None:
    """In/NotIn and Exists/DoesNotExist are exact complements; matchLabels equals a one-value In."""

    def m(op: str, vals: list[str] | None = None) -> bool:
        req = {"key": key, "operator": op, **({"values": vals} if vals else {})}
        return selector_matches(LabelSelector.model_validate({"matchExpressions": [req]}), labels)

    assert m("In", values) != m("NotIn", values)
    assert m("Exists") != m("DoesNotExist")
    by_label = selector_matches(LabelSelector.model_validate({"matchLabels": {key: values[0]}}), labels)
    assert by_label == m("In", values[:1])


def _secret(data: dict[str, str]) -> Secret:
    return Secret.model_validate(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git"}, "stringData": data}
    )


def test_auth_from_secret() -> None:
    assert auth_from_secret(None) is None
    assert auth_from_secret(_secret({"unrelated": "x"})) is None
    auth = auth_from_secret(_secret({"username": "u", "password": "p4ss-word", "bearerToken": "tok", "ca.crt": "CA"}))
    assert auth is not None and (auth.username, auth.password, auth.bearer_token, auth.ca_cert) == (
        "u", "p4ss-word", "tok", b"CA"
    )  # fmt: skip
    assert "p4ss-word" not in repr(auth) and "tok'" not in repr(auth)
    ssh = auth_from_secret(_secret({"identity": "KEY", "known_hosts": "h ssh-ed25519 AAA"}))
    assert ssh is not None and ssh.identity == b"KEY" and ssh.known_hosts == b"h ssh-ed25519 AAA"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unable to access 'https://bob:hunter2@host/x/': 403", "unable to access 'https://***@host/x/': 403"),
        ("token tok-123 echoed; again tok-123", "token *** echoed; again ***"),
        ("nothing secret here", "nothing secret here"),
    ],
)  # fmt: skip
def test_redactor(text: str, expected: str) -> None:
    assert Redactor(["hunter2", "tok-123"])(text) == expected


@given(st.text(min_size=1, max_size=20), st.text(max_size=40), st.text(max_size=40))
def test_redactor_never_leaks(secret: str, before: str, after: str) -> None:
    assume("*" not in secret)  # the replacement itself is made of stars
    assert secret not in Redactor([secret])(before + secret + after)


def test_credential_env_files_are_private_and_removed(tmp_path: Path) -> None:
    askpass = ensure_askpass(tmp_path / "bin")
    auth = GitAuth(username="u", password="pw", bearer_token="tok", identity=b"KEY", known_hosts=b"H", ca_cert=b"CA")
    with credential_env(auth, askpass=askpass, tmp_root=tmp_path / "tmp") as env:
        assert env["GIT_ASKPASS"] == str(askpass)
        assert (env["TAGPILOT_GIT_USERNAME"], env["TAGPILOT_GIT_PASSWORD"]) == ("u", "pw")
        pairs = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
        assert pairs["http.extraHeader"] == "Authorization: Bearer tok"
        files = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]
        assert sorted(p.name for p in files) == ["ca.crt", "identity", "known_hosts"]
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
        assert all(stat.S_IMODE(p.parent.stat().st_mode) == 0o700 for p in files)
        assert "StrictHostKeyChecking=yes" in env["GIT_SSH_COMMAND"]
        assert "pw" not in env["GIT_SSH_COMMAND"] and "tok" not in env["GIT_SSH_COMMAND"]
        assert b"pw" not in askpass.read_bytes()
    assert not any(p.is_file() for p in (tmp_path / "tmp").rglob("*"))
    assert os.access(askpass, os.X_OK)
