"""How long a scan may take: spec.timeout, else Flux's default (the interval), bounded."""

from __future__ import annotations

import pytest

from tagpilot.config.flux_image import ImageRepository
from tagpilot.engine.scan import DEFAULT_SCAN_TIMEOUT, scan_timeout


def repo(interval: str, timeout: str | None = None) -> ImageRepository:
    spec = {"image": "alpine", "interval": interval, **({"timeout": timeout} if timeout else {})}
    return ImageRepository.model_validate({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": {"name": "r"},
        "spec": spec,
    })


@pytest.mark.parametrize(
    ("interval", "timeout", "seconds", "source"),
    [
        ("1m", None, 60.0, "no spec.timeout"),  # Flux: the interval
        ("24h", None, DEFAULT_SCAN_TIMEOUT, "no spec.timeout"),  # bounded: a hang no longer lasts a day
        ("500ms", None, 1.0, "no spec.timeout"),  # Flux's minimum of one second
        ("24h", "2h", 7200.0, "spec.timeout"),  # an explicit timeout is the user's choice
        ("1m", "5s", 5.0, "spec.timeout"),
    ],
)
def test_scan_timeout(interval: str, timeout: str | None, seconds: float, source: str) -> None:
    value, where = scan_timeout(repo(interval, timeout))
    assert value == seconds
    assert where.startswith(source)
