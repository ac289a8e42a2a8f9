"""The commit message of a push is rendered once and is the same text in the commit and in the event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tagpilot.config.loader import load_config
from tagpilot.engine import automation
from tagpilot.engine.local import local_controller, reconcile_round
from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer


def test_message_rendered_once_per_push(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    rendered: list[str] = []
    original = automation.render_commit_message

    def counting(template: str, data: object) -> str:
        rendered.append(original(template, data))  # type: ignore[arg-type]
        return rendered[-1]

    monkeypatch.setattr(automation, "render_commit_message", counting)

    async def round_() -> list:
        async with local_controller(load_config([cfg]), tmp_path / "state") as controller:
            return await reconcile_round(controller)

    results = asyncio.run(round_())
    pushed = next(r.outcome for r in results if r.key[0] == "ImageUpdateAutomation")
    assert pushed is not None and pushed.changed
    assert git_remote_file.message() == f"skip-ci: {image}:1.1.0"
    # the commit and the Pushed event's details: one rendering (it was three: commit, pull request, event)
    assert [text.strip() for text in rendered] == [f"skip-ci: {image}:1.1.0"]
    assert pushed.pushed["commitMessage"] == rendered[0]
