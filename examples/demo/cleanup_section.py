"""The cleanup part of `make demo`: a RetentionPolicy that never deletes what is deployed.

Seed 000's "清理临时镜像" (clean up the temporary images) on the demo's podinfo repository: keep only
the newest build by its image config date, plus everything tagpilot knows is in use. The plan shows,
per digest, what is kept and why — the tag the fleet runs (read from the deployment repository) and
the ImagePolicy's latest and previous results — and `retention apply --yes` deletes the rest from
the real registry. A second plan finds nothing left to delete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLICY = """\
# Keep the newest podinfo build (by the image config's `created`); tagpilot adds what is deployed in
# the fleet repository and the ImagePolicy's latestRef/observedPreviousRef, whatever their age.
apiVersion: tagpilot.dev/v1alpha1
kind: RetentionPolicy
metadata:
  name: podinfo-cleanup
  namespace: apps
spec:
  imageRepositoryRefs:
    - name: podinfo
  dryRun: true            # `retention apply --yes` below deletes anyway: read the plan first
  rules:
    - template: latestCreatedK
      params:
        latestCreatedK: 1
      tagSelectors:
        - decoration: matches
          kind: doublestar
          pattern: "**"
"""


def retention_demo(config: Path, tagpilot: Callable[..., Any], banner: Callable[[str], None]) -> None:
    (config / "retention.yaml").write_text(POLICY)
    banner("registry cleanup: what a RetentionPolicy keeps, and why (nothing is deleted yet)")
    tagpilot("retention", "plan", "-f", str(config))
    plan = json.loads(tagpilot("retention", "plan", "-f", str(config), "-o", "json", echo=False).stdout)
    deployed = [i for i in plan if any(r.startswith("deployed:") for r in i["reasons"])]
    if not deployed or any(i["action"] != "retain" for i in deployed):
        raise SystemExit("demo failed: the deployed podinfo tag must be retained")
    doomed = [i for i in plan if i["action"] == "delete"]
    if not doomed:
        raise SystemExit("demo failed: the plan should delete the old podinfo builds")
    banner(f"retention apply --yes: delete {len(doomed)} digest(s) from the registry; the deployed tag stays")
    tagpilot("retention", "apply", "-f", str(config), "--yes")
    after = json.loads(tagpilot("retention", "plan", "-f", str(config), "-o", "json", echo=False).stdout)
    if any(i["action"] == "delete" for i in after) or not any(i["digest"] == deployed[0]["digest"] for i in after):
        raise SystemExit("demo failed: after apply nothing should be left to delete and the deployed tag must exist")
    print(f"a second plan: {len(after)} digest(s) left, all retained")
