"""TLS contexts of the registry client: loading the CA bundle costs ~25 ms, so every host without
TLS settings (and every plain-http client, which never opens TLS) shares one; TLS settings get their own."""

from __future__ import annotations

import ssl

from tagpilot.registry.client import RegistryClient, TLSSettings


async def test_hosts_without_tls_settings_share_one_context_and_settings_get_their_own() -> None:
    async with RegistryClient() as client:
        shared = client._context("ghcr.io", None)
        assert client._context("quay.io", None) is shared
        assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
        lax = client._context("registry.local", TLSSettings(insecure_skip_verify=True))
        assert lax is not shared and lax.verify_mode == ssl.CERT_NONE
        assert client._context("registry.local", TLSSettings(insecure_skip_verify=True)) is lax
        assert client._http("http", "127.0.0.1:5000", None) is not client._http("https", "127.0.0.1:5000", None)
        assert len(client._contexts) == 2
