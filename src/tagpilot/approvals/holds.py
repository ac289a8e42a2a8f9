"""What retention must keep for the manual path: pinned tags and the tags of open approval requests.

Retention (`engine/retention_protect.py` `held`) asks, for one registry repository, which tags a
person holds: deleting a pinned tag, or the tag an approval request proposes, would turn a person's
decision into a broken deployment. A request names its images; a pin names a policy (`ns:name`) or an
Application's alias, so the image behind it is found in the configuration.
"""

from __future__ import annotations

from typing import Any

from tagpilot.approvals.book import ApprovalBook, Pin


def _canonical(name: str) -> str | None:
    from tagpilot.engine.retention_protect import canonical_of

    return canonical_of(name)


def _pin_image(config: Any, pin: Pin) -> str | None:
    """The image a pin holds: its ImagePolicy's repository, or the Application alias's image."""
    from tagpilot.config.argo_cd import Application
    from tagpilot.config.flux_image import ImagePolicy, ImageRepository

    if config is None:
        return None
    if ":" in pin.target:  # a policy, `NS:NAME`
        namespace, _, name = pin.target.partition(":")
        policy = config.get(ImagePolicy, namespace, name)
        if policy is None:
            return None
        ref = policy.spec.image_repository_ref
        repository = config.get(ImageRepository, ref.namespace or namespace, ref.name)
        return repository.spec.image if repository is not None else None
    app = config.get(Application, pin.key[1], pin.key[2]) if pin.key[0] == "Application" else None
    if app is None:
        return None
    return next((s.image for s in app.image_updater.images if s.alias == pin.target), None)


def retention_holds(store: Any, canonical: str, config: Any = None) -> dict[str, list[str]]:
    """tag → reasons, for the registry repository `canonical`: pins (needs `config` to know a pin's
    image) and the proposed tags of open approval requests (pending, or approved and not pushed)."""
    book = ApprovalBook(store)
    out: dict[str, list[str]] = {}
    for request in book.list(open_only=True):
        for image in request.images:
            if image.get("to") and _canonical(str(image.get("image", ""))) == canonical:
                out.setdefault(str(image["to"]), []).append(
                    f"pending approval: request {request.id} of {request.object}")
    for pin in book.all_pins():
        image = _pin_image(config, pin)
        if image is not None and _canonical(image) == canonical:
            out.setdefault(pin.tag, []).append(f"pinned: {'/'.join(pin.key)} holds {pin.target} at {pin.tag}")
    return out
