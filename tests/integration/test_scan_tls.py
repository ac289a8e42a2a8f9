"""`tagpilot scan` against a real registry serving HTTPS: `certSecretRef` CAs and client certificates.

Flux's ImageRepository takes TLS material from the Secret named by `spec.certSecretRef`: `ca.crt`
(a CA added to the system ones), `tls.crt` + `tls.key` (a client certificate), or the older
`caFile`/`certFile`/`keyFile` keys. These tests run the real `tagpilot` command against
docker-registry 2.8 with `http.tls` (and `http.tls.clientcas`) from the `registry_factory` fixture.

Which host name: go-containerregistry (so Flux) and tagpilot go to `https` only for most hosts;
for `insecure: true`, `localhost:*` and loopback or private IPs they ping https first and fall back
to http. Tests run both ways: `127.0.0.1:PORT` (`RegistryServer.host`, probed) and `LOCALHOST:PORT`
(`RegistryServer.tls_host`, https only: same server and certificate via its `localhost` SAN, as host
names compare case-insensitively, but not matched by the case-sensitive `localhost:` test).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer, TLSMaterial
from tests.integration.cli import Result, run_tagpilot

pytestmark = pytest.mark.integration

RegistryFactory = Callable[..., RegistryServer]


def image_repository(name: str, image: str, *, cert_secret: str | None = None, insecure: bool = False) -> str:
    extra = f"  certSecretRef:\n    name: {cert_secret}\n" if cert_secret else ""
    if insecure:
        extra += "  insecure: true\n"
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: {name}
  namespace: default
spec:
  image: {image}
  interval: 5m
{extra}"""


def tls_secret(name: str, values: dict[str, bytes], *, string_data: bool = False) -> str:
    """A Secret as `kubectl create secret generic --from-file` writes it (`data`, base64) or `stringData`."""
    if string_data:
        body = "stringData:\n" + "".join(
            f"  {key}: |\n" + "".join(f"    {line}\n" for line in value.decode().splitlines())
            for key, value in values.items()
        )
    else:
        body = "data:\n" + "".join(f"  {key}: {base64.b64encode(value).decode()}\n" for key, value in values.items())
    return f"""\
apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: default
type: Opaque
{body}"""


def scan(tmp_path: Path, *docs: str) -> Result:
    config = tmp_path / "config.yaml"
    config.write_text("---\n".join(docs))
    return run_tagpilot("scan", "-f", config, "--state", tmp_path / "state", "-o", "json")


def views(result: Result) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in result.json()}


def ready(view: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in view["status"]["conditions"] if c["type"] == "Ready")


def assert_scanned(view: dict[str, Any], tag_count: int) -> None:
    assert ready(view)["status"] == "True", ready(view)["message"]
    assert ready(view)["reason"] == "Succeeded"
    assert view["status"]["lastScanResult"]["tagCount"] == tag_count


def assert_read_failure(result: Result, view: dict[str, Any], *needles: str) -> str:
    """The scan failed as a read failure (not stalled), said so without a traceback; returns the message."""
    condition = ready(view)
    assert (condition["status"], condition["reason"]) == ("False", "ReadOperationFailed")
    message = condition["message"]
    for needle in needles:
        assert needle in message, message
    assert not any(c["type"] == "Stalled" and c["status"] == "True" for c in view["status"]["conditions"])
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert f"ImageRepository/default/{view['name']}" in result.stderr
    return message


def assert_no_key_material(result: Result, *pems: bytes) -> None:
    """No line of a private key (or any secret value) appears in what the CLI printed."""
    for pem in pems:
        body = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
        for line in body:
            assert line not in result.stdout and line not in result.stderr


# -- a CA from certSecretRef --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "string_data", "host_attr"),
    [("ca.crt", False, "tls_host"), ("ca.crt", True, "host"), ("caFile", False, "tls_host")],
    ids=["ca.crt-data-https-only", "ca.crt-stringData-loopback-probed", "legacy-caFile"],
)
def test_ca_from_cert_secret_ref_verifies_the_registry(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path, key: str, string_data: bool, host_attr: str
) -> None:
    reg = registry_factory(tls=True)
    push_tags(reg, repo_name, ["1.0.0", "1.1.0", "2.0.0"])
    host = getattr(reg, host_attr)
    result = scan(
        tmp_path,
        image_repository("app", f"{host}/{repo_name}", cert_secret="registry-ca"),
        tls_secret("registry-ca", {key: reg.ca_pem}, string_data=string_data),
    )
    assert result.code == 0, result.stderr
    (view,) = result.json()
    assert_scanned(view, 3)
    assert view["status"]["canonicalImageName"] == f"{host}/{repo_name}"
    assert view["status"]["lastScanResult"]["latestTags"] == ["2.0.0", "1.1.0", "1.0.0"]


def test_without_the_ca_the_certificate_is_refused_once(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path
) -> None:
    reg = registry_factory(tls=True)
    push_tags(reg, repo_name, ["1"])
    image = f"{reg.tls_host}/{repo_name}"
    result = scan(
        tmp_path,
        image_repository("no-ref", image),
        image_repository("other-ca", image, cert_secret="wrong-ca"),
        image_repository("right-ca", image, cert_secret="right-ca"),
        tls_secret("wrong-ca", {"ca.crt": TLSMaterial.generate().ca_pem}),
        tls_secret("right-ca", {"ca.crt": reg.ca_pem}),
    )
    found = views(result)
    for name in ("no-ref", "other-ca"):
        message = assert_read_failure(result, found[name], reg.tls_host, "CERTIFICATE_VERIFY_FAILED")
        assert "certificate verify failed" in message and "ca.crt" in message  # what failed, what to set
    assert_scanned(found["right-ca"], 1)  # one bad object does not spoil the others
    # a certificate that cannot be verified does not get better: one handshake each, no retries
    # (go-containerregistry does not retry x509 errors either)
    assert reg.tls_handshake_errors(at_least=2) == 2


def test_loopback_without_the_ca_reports_the_https_and_the_http_attempt(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path
) -> None:
    # 127.0.0.1 is probed: https fails verification, the http fallback reaches the TLS port and
    # gets Go's 400; the message must carry both, or the user sees only the misleading 400
    reg = registry_factory(tls=True)
    result = scan(tmp_path, image_repository("app", f"{reg.host}/{repo_name}"))
    assert_read_failure(result, result.json()[0], reg.host, "CERTIFICATE_VERIFY_FAILED",
                        "Client sent an HTTP request to an HTTPS server")


# -- client certificates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "host_attr"),
    [(("ca.crt", "tls.crt", "tls.key"), "tls_host"), (("caFile", "certFile", "keyFile"), "host")],
    ids=["tls.crt-https-only", "legacy-certFile-loopback-probed"],
)
def test_client_certificate_from_cert_secret_ref(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path, keys: tuple[str, str, str], host_attr: str
) -> None:
    reg = registry_factory(tls=True, client_ca=True)
    push_tags(reg, repo_name, ["a", "b"])
    values = dict(zip(keys, (reg.ca_pem, reg.client_cert_pem, reg.client_key_pem), strict=True))
    result = scan(
        tmp_path,
        image_repository("app", f"{getattr(reg, host_attr)}/{repo_name}", cert_secret="client-tls"),
        tls_secret("client-tls", values),
    )
    assert result.code == 0, result.stderr
    assert_scanned(result.json()[0], 2)
    assert_no_key_material(result, reg.client_key_pem)


def test_refused_client_certificate_fails_clearly(registry_factory: RegistryFactory, tmp_path: Path) -> None:
    """4 objects with only `ca.crt`, 4 with a client certificate from a foreign CA.

    Eight objects because how the refusal surfaces is racy: the TLS 1.3 alert comes after the
    handshake, so the client sees an ssl.SSLError if its read meets the alert, a broken pipe if it
    meets the closed socket first (before c46ce63 the raw SSLError escaped with a traceback; before
    the alert diagnosis the broken pipe was only "(ReadError)"). Several objects show every path.
    """
    reg = registry_factory(tls=True, client_ca=True)
    stranger = TLSMaterial.generate()
    image = f"{reg.tls_host}/tls/app"  # fixed: repo_name holds the test name, with "certificate" in it
    docs = [image_repository(f"ca-only-{i}", image, cert_secret="ca-only") for i in range(4)]
    docs += [image_repository(f"stranger-{i}", image, cert_secret="stranger") for i in range(4)]
    result = scan(
        tmp_path,
        *docs,
        tls_secret("ca-only", {"ca.crt": reg.ca_pem}),
        tls_secret("stranger", {"ca.crt": reg.ca_pem, "tls.crt": stranger.client_cert_pem,
                                "tls.key": stranger.client_key_pem}),
    )
    assert "Traceback" not in result.stderr, result.stderr[-600:]
    found = views(result)
    assert len(found) == 8
    for view in found.values():
        message = assert_read_failure(result, view, reg.tls_host)
        assert "client certificate" in message, message
    assert_no_key_material(result, stranger.client_key_pem)


def test_client_certificate_without_its_key_is_a_clear_error(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path
) -> None:
    reg = registry_factory(tls=True, client_ca=True)
    result = scan(
        tmp_path,
        image_repository("app", f"{reg.tls_host}/{repo_name}", cert_secret="no-key"),
        tls_secret("no-key", {"ca.crt": reg.ca_pem, "tls.crt": reg.client_cert_pem}),
    )
    message = assert_read_failure(result, result.json()[0], reg.tls_host, "needs a key (tls.key)")
    assert "BEGIN CERTIFICATE" not in message


def test_garbage_ca_is_a_clear_error(registry_factory: RegistryFactory, repo_name: str, tmp_path: Path) -> None:
    reg = registry_factory(tls=True)
    result = scan(
        tmp_path,
        image_repository("app", f"{reg.tls_host}/{repo_name}", cert_secret="junk"),
        tls_secret("junk", {"ca.crt": b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"}),
    )
    assert_read_failure(result, result.json()[0], f"TLS settings for {reg.tls_host} are invalid")


# -- insecure: true against the TLS port ------------------------------------------------------------------


@pytest.mark.parametrize("host_attr", ["tls_host", "host"])
def test_insecure_without_the_ca_fails_clearly(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path, host_attr: str
) -> None:
    # `insecure: true` allows plain HTTP, but (like go-containerregistry) https is tried first: it
    # fails verification, and plain HTTP to the TLS port gets Go's 400 "Client sent an HTTP request
    # to an HTTPS server."; the message has both
    reg = registry_factory(tls=True)
    host = getattr(reg, host_attr)
    result = scan(tmp_path, image_repository("app", f"{host}/{repo_name}", insecure=True))
    assert_read_failure(result, result.json()[0], f"{host} answered 400",
                        "Client sent an HTTP request to an HTTPS server", "CERTIFICATE_VERIFY_FAILED")


@pytest.mark.parametrize("host_attr", ["tls_host", "host"])
def test_insecure_with_the_ca_uses_https_like_flux(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path, host_attr: str
) -> None:
    # Flux passes name.Insecure and the certSecretRef transport to go-containerregistry, whose ping
    # tries https first: a TLS registry marked insecure is still scanned over verified https
    reg = registry_factory(tls=True)
    push_tags(reg, repo_name, ["1", "2"])
    result = scan(
        tmp_path,
        image_repository("app", f"{getattr(reg, host_attr)}/{repo_name}", cert_secret="registry-ca", insecure=True),
        tls_secret("registry-ca", {"ca.crt": reg.ca_pem}),
    )
    assert result.code == 0, result.stderr
    assert_scanned(result.json()[0], 2)


def test_insecure_plain_registry_is_still_reached_over_http(
    registry_factory: RegistryFactory, repo_name: str, tmp_path: Path
) -> None:
    # the other side of the probe: a plain-HTTP registry under a name that is not local
    reg = registry_factory()
    push_tags(reg, repo_name, ["1"])
    result = scan(tmp_path, image_repository("app", f"{reg.tls_host}/{repo_name}", insecure=True))
    assert result.code == 0, result.stderr
    assert_scanned(result.json()[0], 1)
