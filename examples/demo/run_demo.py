"""`make demo`: tagpilot's main job end to end on local defaults, with real servers.

It starts the CNCF registry (Debian's `docker-registry`) on 127.0.0.1 and a bare git repository
(the deployment repository, reached over file://), pushes a few images the way a CI pipeline would,
writes a Flux-style configuration (ImageRepository, ImagePolicy, GitRepository,
ImageUpdateAutomation), and runs tagpilot against it, printing each command and its output: scan,
policies, a dry run, the real commit and push, then a new image and the next update; then the Argo CD
tutorial's Application (examples/argo-style) updated end to end (argo_section.py). Everything lives
under ./demo-work (state included) and the registry stops at the end. The same fixtures serve the
test suite (tests/fixtures).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures.git import GitRemote, git_env  # noqa: E402
from tests.fixtures.pusher import push_image, push_tags  # noqa: E402
from tests.fixtures.registry import RegistryServer, free_port  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from argo_section import argo_demo  # noqa: E402
from cleanup_section import retention_demo  # noqa: E402

WORK = ROOT / "demo-work"
DEMO_TOKEN = "demo-webhook-token"
TAGPILOT = [sys.executable, "-m", "tagpilot"]


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def tagpilot(*args: str, check: bool = True, echo: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tagpilot command as a user would type it; `echo=False` keeps its output for the demo's checks."""
    shown = "tagpilot " + " ".join(shlex.quote(a.replace(str(ROOT) + "/", "")) for a in args)
    if echo:
        print(f"$ {shown}", flush=True)
    env = dict(os.environ, TAGPILOT_STATE=str(WORK / "state"))
    proc = subprocess.run([*TAGPILOT, *args], text=True, capture_output=True, env=env, cwd=ROOT)
    if echo:
        sys.stdout.write(proc.stdout)
    if proc.stderr:
        sys.stdout.write(proc.stderr)
    if check and proc.returncode != 0:
        raise SystemExit(f"demo failed: `{shown}` exited {proc.returncode}")
    return proc


def write_config(registry: RegistryServer) -> Path:
    config = WORK / "config"
    config.mkdir(parents=True)
    (config / "repositories.yaml").write_text(f"""\
# What Flux's `flux create image repository` would export, pointed at the local registry.
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: apps
spec:
  image: {registry.host}/demo/podinfo
  interval: 5m
  insecure: true          # plain HTTP: the demo registry listens on 127.0.0.1 without TLS
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: devops-demo
  namespace: apps
spec:
  image: {registry.host}/cnych/devops-demo
  interval: 30s
  insecure: true
  exclusionList: ["^.*\\\\.sig$", "^dev-"]
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: missing
  namespace: apps
spec:
  image: {registry.host}/demo/does-not-exist
  interval: 5m
  insecure: true
""")
    return config


def write_automation(config: Path, registry: RegistryServer, remote: GitRemote) -> None:
    (config / "automation.yaml").write_text(f"""\
# The policies: the newest stable podinfo, and the newest main-branch build of devops-demo
# (tags `main-<sha>-<unix time>`, ordered by the timestamp, as in the Flux tutorial).
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: apps
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: ">=6.0.0"
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImagePolicy
metadata:
  name: devops-demo
  namespace: apps
spec:
  imageRepositoryRef:
    name: devops-demo
  filterTags:
    pattern: "^main-[a-fA-F0-9]+-(?P<ts>.*)"
    extract: "$ts"
  policy:
    numerical:
      order: asc
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: apps
spec:
  url: {remote.url}
  interval: 1m
  ref:
    branch: main
---
apiVersion: image.toolkit.fluxcd.io/v1beta1
kind: ImageUpdateAutomation
metadata:
  name: fleet
  namespace: apps
spec:
  interval: 3m
  sourceRef:
    kind: GitRepository
    name: fleet
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: tagpilot@example.invalid
        name: tagpilot
      messageTemplate: 'skip-ci: {{{{range .Updated.Images}}}}{{{{println .}}}}{{{{end}}}}'
    push:
      branch: main
  update:
    path: ./apps
    strategy: Setters
""")


def seed_fleet(remote: GitRemote, registry: RegistryServer) -> None:
    remote.commit({
        "apps/podinfo/deployment.yaml": f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: apps
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: podinfo
          image: {registry.host}/demo/podinfo:6.0.0 # {{"$imagepolicy": "apps:podinfo"}}
          ports:
            - containerPort: 9898   # kept exactly as written
""",
        "apps/devops-demo/values.yaml": f"""\
# Helm values: the chart is rendered by Argo CD / Flux, tagpilot only edits the marked fields
image:
  repository: {registry.host}/cnych/devops-demo # {{"$imagepolicy": "apps:devops-demo:name"}}
  tag: "main-25de3e1a-1695469144"   # {{"$imagepolicy": "apps:devops-demo:tag"}}
resources: {{limits: {{cpu: 100m}}}}
""",
        "README.md": "The deployment repository of the demo.\n",
    }, message="initial manifests")


def run_daemon(config: Path, registry: RegistryServer, remote: GitRemote, port: int) -> None:
    """The daemon: the registry's notification of a push becomes a commit, with no polling."""
    import time

    import httpx

    (config / "receiver.yaml").write_text(f"""\
# The registry posts its notifications here; tagpilot rescans only the repository that was pushed.
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: registry
  namespace: apps
spec:
  type: distribution
  secretRef:
    name: webhook-token
---
apiVersion: v1
kind: Secret
metadata:
  name: webhook-token
  namespace: apps
stringData:
  token: {DEMO_TOKEN}
""")
    banner(f"tagpilot run: the daemon on 127.0.0.1:{port}; the registry notifies it of every push")
    env = dict(os.environ, TAGPILOT_STATE=str(WORK / "state"))
    log = open(WORK / "daemon.log", "wb")  # noqa: SIM115 - closed below
    print(f"$ tagpilot run -f demo-work/config --listen 127.0.0.1:{port} &")
    proc = subprocess.Popen([*TAGPILOT, "run", "-f", str(config), "--listen", f"127.0.0.1:{port}",
                             "--log-format", "text"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        time.sleep(1.5)  # let the startup round settle
        before = remote.head("main")
        push_tags(registry, "cnych/devops-demo", ["main-feedbeef-1695490000"])
        pushed_at = time.monotonic()
        print("CI pushed cnych/devops-demo:main-feedbeef-1695490000")
        while remote.head("main") == before and time.monotonic() - pushed_at < 30:
            time.sleep(0.02)
        elapsed = time.monotonic() - pushed_at
        if remote.head("main") == before:
            raise SystemExit("demo failed: the daemon did not commit the new image:\n"
                             + (WORK / "daemon.log").read_text()[-3000:])
        print(f"commit {remote.head('main')[:7]} in the deployment repository {elapsed:.2f}s after the push:")
        print(remote.git("show", "--format=%s", "--stat", "main"))
        tagpilot("events", "--limit", "8")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        print("$ curl /metrics | grep tagpilot_commits_pushed_total")
        print("\n".join(line for line in metrics.splitlines() if line.startswith("tagpilot_commits_pushed_total")))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        print(f"tagpilot run stopped (exit {proc.returncode})")


def main() -> int:
    if shutil.which("docker-registry") is None:
        print("docker-registry is not installed: run `make demo` as root (it installs it) or "
              "`apt-get install docker-registry`", file=sys.stderr)
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    daemon_port = free_port()
    hook = "/hook/" + hashlib.sha256(f"{DEMO_TOKEN}registryapps".encode()).hexdigest()
    # the registry notifies tagpilot of every push (used by the daemon at the end of the demo)
    registry = RegistryServer(workdir=WORK / "registry", auth="none", notifications=[{
        "name": "tagpilot", "url": f"http://127.0.0.1:{daemon_port}{hook}",
        "headers": {"Authorization": [f"Bearer {DEMO_TOKEN}"]}, "timeout": "1s", "threshold": 3, "backoff": "1s"}])
    registry.start()
    try:
        banner(f"a local registry on {registry.url}; CI pushes images")
        start = datetime(2026, 11, 1, tzinfo=UTC)
        for i, tag in enumerate(["6.0.0", "6.1.0", "6.2.0-rc.1", "6.1.1"]):
            digest = push_image(registry, "demo/podinfo", tag, created=start + timedelta(days=i),
                                platforms=["linux/amd64", "linux/arm64"])
            print(f"pushed demo/podinfo:{tag} ({digest[:19]}...)")
        push_tags(registry, "demo/podinfo", ["sha256-deadbeef.sig"])
        print("pushed demo/podinfo:sha256-deadbeef.sig (a cosign signature: excluded by default)")
        shas = ["25de3e1a", "9813cf9a", "f4fc1ec0"]
        branch_tags = [f"main-{sha}-{1695469144 + n * 600}" for n, sha in enumerate(shas)]
        push_tags(registry, "cnych/devops-demo", [*branch_tags, "dev-0a1b2c3d-1695469999"])
        print(f"pushed cnych/devops-demo: {', '.join(branch_tags)}, dev-0a1b2c3d-1695469999")

        config = write_config(registry)
        banner("scan every ImageRepository (one of them points at a repository that does not exist)")
        proc = tagpilot("scan", "-f", str(config), check=False)
        if proc.returncode != 1:
            raise SystemExit("demo failed: scan should report the missing repository with exit code 1")

        banner("the stored status, as `kubectl get imagerepository -o json` would show it")
        proc = tagpilot("get", "repositories", "-f", str(config / "repositories.yaml"), "-o", "json")

        # the deployment repository and the automation that keeps it up to date
        (config / "repositories.yaml").write_text(
            (config / "repositories.yaml").read_text().split("---\napiVersion: image.toolkit.fluxcd.io/v1\n"
                                                          "kind: ImageRepository\nmetadata:\n  name: missing")[0])
        remote = GitRemote.create(WORK / "git", "fleet.git", env=git_env(WORK / "git-home"))
        seed_fleet(remote, registry)
        write_automation(config, registry, remote)
        banner(f"a deployment repository at {remote.url}; what would change (nothing is pushed)")
        tagpilot("reconcile", "-f", str(config), "--dry-run")

        banner("reconcile: scan what is due, evaluate the policies, commit and push")
        tagpilot("reconcile", "-f", str(config))
        tagpilot("get", "policies", "-f", str(config))
        print("$ git log -1 --stat (the deployment repository)")
        print(remote.git("log", "-1", "--stat", "--format=%h %an%n%n%B", "main"))

        banner("CI pushes a new build; tagpilot picks it up (no change → no commit on the run after)")
        push_tags(registry, "cnych/devops-demo", ["main-0c0ffee0-1695480000"])
        print("pushed cnych/devops-demo:main-0c0ffee0-1695480000")
        tagpilot("scan", "-f", str(config))
        tagpilot("reconcile", "-f", str(config))
        print("$ git show --format=%s main (only the marked characters changed)")
        print(remote.git("show", "--format=%s", "main"))
        tagpilot("reconcile", "-f", str(config))
        tagpilot("get", "automations", "-f", str(config))
        argo_demo(WORK, registry, tagpilot, banner)
        retention_demo(config, tagpilot, banner)
        run_daemon(config, registry, remote, daemon_port)
        banner("done: state in demo-work/state, configuration in demo-work/config, remote in demo-work/git")
    finally:
        registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
