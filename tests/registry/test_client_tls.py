"""RegistryClient against the REAL distribution registry serving HTTPS (`registry_factory(tls=True)`).

What is pinned down here, after go-containerregistry (so Flux):
- loopback hosts (and `insecure: true`) try https first and fall back to http (`transport/ping.go`),
  so an HTTPS registry on 127.0.0.1 with a `certSecretRef` CA is read over https;
- TLS failures are final (never retried) and say which certificate problem it was. A refused client
  certificate surfaces in httpx as an empty ReadError/WriteError more often than as the TLS alert,
  so several attempts are made to meet both paths.

`LOCALHOST:PORT` (`RegistryServer.tls_host`) is the same server under a name that is not taken for
a local plain-HTTP registry, so it shows the https-only path.
"""

from __future__ import annotations

import ssl

import httpx
import pytest

from tagpilot.errors import RegistryError, RegistryUnavailable
from tagpilot.registry.client import (
    RegistryClient,
    RegistryTLSError,
    RepositoryAccess,
    TLSSettings,
    _find_ssl_error,
    _tls_failure,
)
from tagpilot.registry.credentials import DockerConfig
from tagpilot.registry.reference import parse_reference
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import TLSMaterial

NO_CONFIG = DockerConfig()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def access(host: str, repo: str, tls: TLSSettings | None = None, insecure: bool = False) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{host}/{repo}"), tls=tls, insecure=insecure, timeout=10)


# -- messages (pure) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "verify", "tls", "needles", "tls_server"),
    [
        ("CERTIFICATE_VERIFY_FAILED", "unable to get local issuer certificate", None,
         ["certificate verify failed: unable to get local issuer certificate", "CERTIFICATE_VERIFY_FAILED",
          "set certSecretRef with the registry's CA"], True),
        ("CERTIFICATE_VERIFY_FAILED", "self-signed certificate", None, ["registry's CA"], True),
        ("CERTIFICATE_VERIFY_FAILED", "Hostname mismatch, certificate is not valid for 'x'.", None,
         ["not valid for h:5000"], True),
        ("CERTIFICATE_VERIFY_FAILED", "certificate has expired", None, ["has expired"], True),
        ("SSLV3_ALERT_BAD_CERTIFICATE", None, None,
         ["requires a client certificate", "SSLV3_ALERT_BAD_CERTIFICATE", "tls.crt and tls.key"], True),
        ("TLSV13_ALERT_CERTIFICATE_REQUIRED", None, TLSSettings(ca_pem=b"x"), ["requires a client certificate"], True),
        ("SSLV3_ALERT_BAD_CERTIFICATE", None, TLSSettings(cert_pem=b"c", key_pem=b"k"),
         ["rejected our client certificate"], True),
        ("TLSV1_ALERT_UNKNOWN_CA", None, TLSSettings(cert_pem=b"c", key_pem=b"k"),
         ["rejected our client certificate"], True),
        ("WRONG_VERSION_NUMBER", None, None, ["does not speak TLS", "insecure: true"], False),
        ("TLSV1_ALERT_PROTOCOL_VERSION", None, None, ["TLSV1_ALERT_PROTOCOL_VERSION"], True),
    ],
)
def test_tls_failure_messages(reason, verify, tls, needles, tls_server) -> None:
    failure = _tls_failure("h:5000", reason, verify, tls)
    assert failure.final  # TLS failures do not heal: never retried
    assert failure.message.startswith("TLS handshake with h:5000 failed: ")
    for needle in needles:
        assert needle in failure.message
    assert failure.tls_server is tls_server


def test_ssl_error_is_found_behind_httpx_wrappers() -> None:
    inner = ssl.SSLError(1, "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate")
    try:
        try:
            raise inner
        except ssl.SSLError as e:
            raise httpx.ReadError("") from e
    except httpx.ReadError as outer:
        assert _find_ssl_error(outer) is inner
    assert _find_ssl_error(httpx.ReadError("")) is None


# -- against the real TLS registry ------------------------------------------------------------------------



@pytest.mark.integration
@pytest.mark.parametrize("insecure", [False, True])
async def test_https_registry_on_loopback_is_read_over_https(registry_factory, repo_name: str, insecure) -> None:
    reg = registry_factory(tls=True)
    push_tags(reg, repo_name, ["1", "2"])
    tls = TLSSettings(ca_pem=reg.ca_pem)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        for host in (reg.host, reg.tls_host):
            a = access(host, repo_name, tls, insecure=insecure)
            assert sorted(await c.list_tags(a)) == ["1", "2"]
            assert await c.resolve_scheme(a) == "https"
        # one https ping per probed host, answered before the http leg starts; LOCALHOST is an https
        # host (not probed) unless insecure
        assert c.probe_count == (2 if insecure else 1)


@pytest.mark.integration
async def test_plain_registry_on_loopback_stays_http(registry, repo_name: str) -> None:
    push_tags(registry, repo_name, ["x"])
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        a = access(registry.host, repo_name)
        assert await c.list_tags(a) == ["x"]
        assert await c.list_tags(a) == ["x"]
        assert await c.resolve_scheme(a) == "http"
        assert c.probe_count == 2 and c.request_count == 2


@pytest.mark.integration
async def test_unverifiable_certificate_is_final_and_says_so(registry_factory, repo_name: str) -> None:
    reg = registry_factory(tls=True)
    sleeps = Sleeps()
    for tls in (None, TLSSettings(ca_pem=TLSMaterial.generate().ca_pem)):
        async with RegistryClient(docker_config=NO_CONFIG, sleep=sleeps) as c:
            with pytest.raises(RegistryTLSError) as info:
                await c.list_tags(access(reg.tls_host, repo_name, tls))
        message = str(info.value)
        assert f"TLS handshake with {reg.tls_host} failed: certificate verify failed" in message
        assert "CERTIFICATE_VERIFY_FAILED" in message and "unable to get local issuer certificate" in message
        assert c.request_count == 1
    assert sleeps.delays == []  # not retried


@pytest.mark.integration
async def test_loopback_without_the_ca_reports_both_attempts(registry_factory, repo_name: str) -> None:
    # like ggcr's multierror: https failed on the certificate, then http got Go's 400
    reg = registry_factory(tls=True)
    async with RegistryClient(docker_config=NO_CONFIG, sleep=Sleeps()) as c:
        with pytest.raises(RegistryError) as info:
            await c.list_tags(access(reg.host, repo_name))
    message = str(info.value)
    assert f"{reg.host} answered 400 (Client sent an HTTP request to an HTTPS server.)" in message
    assert f"https://{reg.host} was tried first: TLS handshake with {reg.host} failed" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


@pytest.mark.integration
@pytest.mark.parametrize("case", ["no-client-cert", "stranger-cert"])
async def test_refused_client_certificate_is_named_and_not_retried(registry_factory, case: str) -> None:
    reg = registry_factory(tls=True, client_ca=True)
    if case == "stranger-cert":
        stranger = TLSMaterial.generate()
        tls = TLSSettings(reg.ca_pem, stranger.client_cert_pem, stranger.client_key_pem)
        expected = "the registry rejected our client certificate"
    else:
        tls = TLSSettings(ca_pem=reg.ca_pem)
        expected = "the registry requires a client certificate"
    sleeps = Sleeps()
    for _ in range(5):  # the alert arrives as ssl.SSLError or as an empty Read/WriteError: meet both
        async with RegistryClient(docker_config=NO_CONFIG, sleep=sleeps) as c:
            with pytest.raises(RegistryTLSError) as info:
                await c.list_tags(access(reg.tls_host, "tls/app", tls))
        assert f"TLS handshake with {reg.tls_host} failed: {expected}" in str(info.value)
        assert "ALERT" in str(info.value)
    assert sleeps.delays == []


@pytest.mark.integration
async def test_client_certificate_accepted_on_loopback(registry_factory, repo_name: str) -> None:
    reg = registry_factory(tls=True, client_ca=True)
    push_tags(reg, repo_name, ["a"])
    tls = TLSSettings(reg.ca_pem, reg.client_cert_pem, reg.client_key_pem)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        assert await c.list_tags(access(reg.host, repo_name, tls)) == ["a"]
        assert await c.resolve_scheme(access(reg.host, repo_name, tls)) == "https"


@pytest.mark.integration
async def test_plain_registry_named_as_https_host_fails_fast(registry, repo_name: str) -> None:
    port = registry.host.rsplit(":", 1)[1]
    sleeps = Sleeps()
    async with RegistryClient(docker_config=NO_CONFIG, sleep=sleeps) as c:
        with pytest.raises(RegistryTLSError) as info:
            await c.list_tags(access(f"LOCALHOST:{port}", repo_name))
    assert "does not speak TLS" in str(info.value) and "insecure: true" in str(info.value)
    assert sleeps.delays == []


@pytest.mark.integration
async def test_unreachable_https_port_is_still_retried(registry_factory) -> None:
    reg = registry_factory(tls=True)
    host = reg.tls_host
    reg.stop()
    sleeps = Sleeps()
    async with RegistryClient(docker_config=NO_CONFIG, sleep=sleeps, retries=2) as c:
        with pytest.raises(RegistryUnavailable):
            await c.list_tags(access(host, "x/y"))
    assert len(sleeps.delays) == 2
