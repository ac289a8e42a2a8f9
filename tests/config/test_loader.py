"""Loading configuration: kinds, defaults, and errors that name file, line, object and field."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tagpilot.config.core import Secret
from tagpilot.config.flux_image import ImageRepository
from tagpilot.config.loader import load_config
from tagpilot.errors import ConfigError, ConfigErrors, CredentialsError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


REPO = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
"""


def test_defaults_like_flux(tmp_path: Path) -> None:
    config = load_config([write(tmp_path, "repo.yaml", REPO)])
    (repo,) = config.of_kind(ImageRepository)
    assert repo.namespace == "default"
    assert repo.spec.exclusion_list == ["^.*\\.sig$"]
    assert repo.spec.provider == "generic"
    assert repo.spec.interval_seconds == 300
    assert repo.spec.timeout_seconds == 300  # timeout defaults to the interval
    assert config.origins[repo.key].line == 1


def test_directory_is_recursive_and_multi_document(tmp_path: Path) -> None:
    write(tmp_path, "a/one.yaml", REPO)
    write(tmp_path, "a/b/two.yml", REPO.replace("podinfo\n", "two\n", 1) + "---\n" + REPO.replace(
        "name: podinfo", "name: three"))
    write(tmp_path, "a/notes.txt", "not yaml: [")
    config = load_config([tmp_path / "a"])
    assert sorted(r.name for r in config.of_kind(ImageRepository)) == ["podinfo", "three", "two"]


def test_v1beta2_accepted_and_unknown_version_rejected(tmp_path: Path) -> None:
    load_config([write(tmp_path, "ok.yaml", REPO.replace("/v1\n", "/v1beta2\n"))])
    with pytest.raises(ConfigError) as info:
        load_config([write(tmp_path, "bad.yaml", REPO.replace("/v1\n", "/v1alpha1\n"))])
    message = str(info.value)
    assert "bad.yaml:1" in message and "apiVersion" in message and "v1alpha1" in message


def test_errors_name_file_line_object_and_field(tmp_path: Path) -> None:
    text = REPO.replace("  interval: 5m\n", "  interval: 5\n  colour: red\n  exclusionList: ['(x']\n")
    with pytest.raises(ConfigErrors) as info:
        load_config([write(tmp_path, "r.yaml", text)])
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{tmp_path}/r.yaml:7: ImageRepository/default/podinfo: field spec.interval")
    assert "r.yaml:8" in lines[1] and "spec.colour: unknown field" in lines[1]
    assert "r.yaml:9" in lines[2] and "missing )" in lines[2]


def test_bad_duration_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config([write(tmp_path, "r.yaml", REPO.replace("5m", "5 minutes"))])
    assert "r.yaml:7" in str(info.value) and "Go duration" in str(info.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config([write(tmp_path, "broken.yaml", REPO + "  extra: [unclosed\n")])
    assert "broken.yaml:" in str(info.value) and "invalid YAML" in str(info.value)


def test_syntax_errors_of_every_file_are_reported_alone(tmp_path: Path) -> None:
    """Documents are validated as they are read, but a file that does not parse is still reported
    with the others that do not (all of them), and no validation error of a readable file is mixed in."""
    bad_field = REPO.replace("interval: 5m", "interval: soon")
    write(tmp_path, "a-invalid.yaml", bad_field)
    write(tmp_path, "b-broken.yaml", REPO + "  extra: [unclosed\n")
    write(tmp_path, "c-broken.yaml", "a: [\n")
    with pytest.raises(ConfigErrors) as info:
        load_config([tmp_path])
    text = str(info.value)
    assert "b-broken.yaml:" in text and "c-broken.yaml:" in text and "a-invalid.yaml" not in text
    with pytest.raises(ConfigError, match=r"a-invalid\.yaml"):  # once they parse, the validation error shows
        load_config([tmp_path / "a-invalid.yaml"])


def test_duplicate_objects_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config([write(tmp_path, "d.yaml", REPO + "---\n" + REPO)])
    assert "defined twice" in str(info.value) and "d.yaml:9" in str(info.value)


def test_unread_kinds_reported_once(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    config = load_config([write(tmp_path, "c.yaml", REPO + "---\n" + cm + "---\n" + cm.replace("x}", "y}"))])
    assert config.ignored == ["ignored 2 object(s) of kind ConfigMap: tagpilot does not read this kind"]


def test_document_without_kind(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing apiVersion or kind"):
        load_config([write(tmp_path, "k.yaml", "foo: bar\n")])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config([tmp_path / "nope.yaml"])


def secret_yaml(type_: str, data: dict[str, str], string_data: dict[str, str] | None = None) -> str:
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", "  name: creds", f"type: {type_}", "data:"]
    lines += [f"  {k}: {base64.b64encode(v.encode()).decode()}" for k, v in data.items()] or ["  {}"]
    if string_data:
        lines += ["stringData:"] + [f"  {k}: {v!r}" for k, v in string_data.items()]
    return "\n".join(lines).replace("data:\n  {}", "data: {}") + "\n"


def test_secret_values_and_string_data_wins(tmp_path: Path) -> None:
    text = secret_yaml("kubernetes.io/basic-auth", {"username": "u", "password": "old"}, {"password": "new"})
    config = load_config([write(tmp_path, "s.yaml", text)])
    secret = config.get(Secret, "default", "creds")
    assert secret is not None
    assert secret.values() == {"username": b"u", "password": b"new"}
    assert "new" not in repr(secret) and "bmV3" not in repr(secret)


def test_secret_dockerconfigjson_must_be_json(tmp_path: Path) -> None:
    text = secret_yaml("kubernetes.io/dockerconfigjson", {".dockerconfigjson": "{not json"})
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config([write(tmp_path, "s.yaml", text)])
    with pytest.raises(ConfigError, match=r"needs the key \.dockerconfigjson"):
        load_config([write(tmp_path, "s2.yaml", secret_yaml("kubernetes.io/dockerconfigjson", {"x": "y"}))])


def test_secret_bad_base64(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  password: '***not base64'\n"
    with pytest.raises(ConfigError) as info:
        load_config([write(tmp_path, "s.yaml", text)])
    assert "data.password" in str(info.value) and "***not" not in str(info.value)


def test_missing_secret_names_the_referrer(tmp_path: Path) -> None:
    text = REPO + "  secretRef:\n    name: regcred\n"
    config = load_config([write(tmp_path, "r.yaml", text)])
    (repo,) = config.of_kind(ImageRepository)
    with pytest.raises(CredentialsError) as info:
        config.secret("default", "regcred", referenced_by=repo, field_name="spec.secretRef")
    assert "ImageRepository/default/podinfo" in str(info.value)
    assert "Secret default/regcred" in str(info.value) and "r.yaml:1" in str(info.value)


def test_exported_objects_with_cluster_metadata_load(tmp_path: Path) -> None:
    text = REPO.replace("  name: podinfo\n", "  name: podinfo\n  uid: 0b7c-123\n  resourceVersion: '9'\n"
                        "  creationTimestamp: '2024-01-01T00:00:00Z'\n") + "status:\n  foo: bar\n"
    config = load_config([write(tmp_path, "r.yaml", text)])
    assert len(config.of_kind(ImageRepository)) == 1


def test_exclusion_list_limit(tmp_path: Path) -> None:
    items = "".join(f"  - 'x{i}'\n" for i in range(26))
    with pytest.raises(ConfigError, match="at most 25"):
        load_config([write(tmp_path, "r.yaml", REPO + "  exclusionList:\n" + items)])


# -- characters YAML does not allow, and values PyYAML cannot construct (issue 9, item 6) ------------


@pytest.mark.parametrize(("char", "code"), [("\x00", "U+0000"), ("\x07", "U+0007"), ("\x1b", "U+001B"),
                                            ("\x7f", "U+007F"), ("\x9b", "U+009B")])
def test_control_character_names_file_line_and_column(tmp_path: Path, char: str, code: str) -> None:
    path = write(tmp_path, "repo.yaml", REPO.replace("podinfo\n", f"pod{char}info\n", 1))
    with pytest.raises(ConfigError) as info:
        load_config([path])
    assert str(info.value) == (f"{path}:4:12: control character {code} not allowed in YAML; remove it (a string "
                               f"that needs it can write it as the escape \\x{ord(char):02x} inside double quotes)")
    assert info.value.exit_code == 2


def test_control_character_after_crlf_lines(tmp_path: Path) -> None:
    path = tmp_path / "crlf.yaml"
    path.write_bytes(REPO.replace("\n", "\r\n").replace("5m", "5m\x00").encode())
    with pytest.raises(ConfigError, match=r"crlf\.yaml:7:15: control character U\+0000 not allowed in YAML"):
        load_config([path])


def test_tab_newline_and_escapes_stay_allowed(tmp_path: Path) -> None:
    text = REPO + '  exclusionList: ["a\\x07b", "\\0"]\n  # a comment\twith a tab\n'
    config = load_config([write(tmp_path, "repo.yaml", text)])
    repo = config.get(ImageRepository, "default", "podinfo")
    assert repo is not None and repo.spec.exclusion_list == ["a\x07b", "\x00"]


def test_reader_errors_never_escape(tmp_path: Path) -> None:
    """Whatever the pre-check misses, a yaml ReaderError becomes a ConfigError with line and column."""
    from tagpilot.config.source import read_documents

    with pytest.raises(ConfigError, match=r"^f\.yaml:2:3: character U\+D800 not allowed in YAML"):
        list(read_documents("a: 1\nb:\ud800\n", "f.yaml"))


def test_values_yaml_cannot_construct_are_config_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "repo.yaml", REPO + "  when: 2024-13-45\n")
    with pytest.raises(ConfigError, match=r"repo\.yaml:8: invalid YAML: invalid timestamp '2024-13-45'.*quote"):
        load_config([path])


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"apiVersion: v1\nkind: Secret\nmetadata: {name: \"\xc3\xa9\xe9t\"}\n")  # é, then latin-1 é
    with pytest.raises(ConfigError, match=r"latin1\.yaml:3:20: cannot read file: not UTF-8 \(byte 0xe9\)"):
        load_config([path])


def test_every_kind_in_the_model_table_resolves_to_its_model() -> None:
    from tagpilot.config.loader import MODELS, model_of

    for kind in MODELS:
        model = model_of(kind)
        assert model is not None and model.__name__ == kind
    assert model_of("Deployment") is None


def test_a_flux_configuration_imports_only_the_flux_models(tmp_path: Path) -> None:
    """Models are imported when a document of their kind is read: a Flux-only configuration must not
    pay for the Argo CD, Argo Events, notification and promotion models."""
    import subprocess
    import sys

    config = tmp_path / "flux.yaml"
    config.write_text(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: a, namespace: x}\n"
        "spec: {image: ghcr.io/x/a, interval: 1m}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: a, namespace: x}\nspec: {imageRepositoryRef: {name: a}, policy: {semver: {range: '>=1'}}}\n")
    code = ("import sys\nfrom tagpilot.config.loader import load_config\n"
            f"config = load_config([{str(config)!r}])\nprint(len(config.objects))\n"
            "print(sorted(m for m in sys.modules if m.startswith('tagpilot.config.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "2"
    for heavy in ("argo_cd", "argo_events", "argo_image_updater", "notifications", "promotion", "flux_alert",
                  "retention"):
        assert f"'tagpilot.config.{heavy}'" not in out[1]
    assert "'tagpilot.config.flux_image'" in out[1]
