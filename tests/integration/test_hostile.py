"""Hostile input through the real command line: configs, regexes, registry tag lists, repository trees.

The house rules under test: bad input gets a clear error that names the file:line, object or field, and
loses nothing; hostile input never crashes with a traceback and never hangs. Every run goes through a
subprocess (`python -m tagpilot`) with an address-space limit and a hang guard, so a YAML bomb or a
runaway recursion shows up as a failed assertion here, not as a frozen or killed test session.

The hang guard is a generous bound (tens of times what a correct run needs), used only to turn a hang
into a failure; no test asserts on how fast anything is. Tests marked `xfail(strict=True)` document
bugs found by this review: each reason says what is wrong; they turn into failures once fixed, so the
marker must then be removed.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.fixtures.config import UPDATE_TEMPLATE, flux_automation_config
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import Result

SRC = Path(__file__).resolve().parents[2] / "src"
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for one tagpilot run
HANG_GUARD = 20.0  # seconds; a correct run of any case here takes well under one


class Hung(AssertionError):
    """tagpilot did not finish within the hang guard."""


def _limit_memory() -> None:  # pragma: no cover - runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def tagpilot(*args: str | Path, env: dict[str, str] | None = None, timeout: float = HANG_GUARD,
             cwd: Path | None = None) -> Result:
    """Run the CLI like `tests.integration.cli.run_tagpilot`, but memory-capped and with a hang guard."""
    full_env = dict(os.environ)
    full_env.pop("TAGPILOT_STATE", None)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), full_env.get("PYTHONPATH", "")]))
    full_env.update(env or {})
    try:
        proc = subprocess.run([sys.executable, "-m", "tagpilot", *map(str, args)], capture_output=True,
                              env=full_env, timeout=timeout, preexec_fn=_limit_memory, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise Hung(f"tagpilot {' '.join(map(str, args))} still running after {timeout:.0f}s") from None
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def assert_clean_failure(result: Result, code: int = 2) -> None:
    """Failed the expected way: the documented exit code, an `error:` line, no traceback, no signal."""
    assert result.code == code, (result.code, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "error:" in result.stderr


def repo_doc(name: str, image: str = "registry.invalid/x/y", *, extra: str = "", namespace: str = "default") -> str:
    return (f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: {name}\n"
            f"  namespace: {namespace}\nspec:\n  image: {image}\n  interval: 5m\n  insecure: true\n{extra}")


def get_repos(config: Path, tmp_path: Path) -> Result:
    return tagpilot("get", "repositories", "-f", config, "--state", tmp_path / "state", "-o", "json")


# -- configuration documents ---------------------------------------------------------------------


# every file that cannot be read or parsed, reported together with its file:line (one load, one run)
SYNTAX_CASES: dict[str, tuple[bytes, int | None, str]] = {
    "tab.yaml": (b"apiVersion: v1\nkind: Secret\nmetadata:\n\tname: x\n", 4, "invalid YAML"),
    "unclosed.yaml": (b"apiVersion: v1\nkind: [unclosed\n", None, "invalid YAML"),
    "alias.yaml": (b"apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {a: *nowhere}\n", 4, "invalid YAML"),
    "utf16.yaml": (b"\xff\xfeapiVersion: v1\n", None, "cannot read file"),  # not UTF-8
    "latin1.yaml": (b"apiVersion: v1\nkind: Secret\nmetadata: {name: \"\xe9t\xe9\"}\n", None, "cannot read file"),
    # no arbitrary object construction: safe loading only
    "pytag.yaml": (b"apiVersion: v1\nkind: ImageRepository\nmetadata: {name: x}\nspec: !!python/object:os.system {}\n",
                   4, "invalid YAML"),
    "binary.yaml": (bytes(range(256)) * 4, None, "cannot read file"),
}
SHAPE_CASES: dict[str, bytes] = {
    "list.yaml": b"- a\n- b\n",
    "scalar.yaml": b"just a scalar\n",
    "number.yaml": b"42\n",
    "nokind.yaml": b"apiVersion: v1\nmetadata: {name: x}\n",
}


def test_unreadable_and_unparsable_files_are_reported_together(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    for name, (content, _line, _needle) in SYNTAX_CASES.items():
        (cfg / name).write_bytes(content)
    (cfg / "good.yaml").write_text(repo_doc("fine"))
    before = {p.name: p.read_bytes() for p in cfg.iterdir()}
    result = get_repos(cfg, tmp_path)
    assert_clean_failure(result)
    for name, (_content, line, needle) in SYNTAX_CASES.items():
        where = f"{cfg / name}:{line}:" if line else f"{cfg / name}:"
        matching = [ln for ln in result.stderr.splitlines() if where in ln]
        assert matching and needle in matching[0], (name, result.stderr)
    assert {p.name: p.read_bytes() for p in cfg.iterdir()} == before  # nothing rewritten or removed
    assert not (tmp_path / "state").exists() or result.stdout == ""


def test_documents_that_are_not_objects_are_reported_together(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    for name, content in SHAPE_CASES.items():
        (cfg / name).write_bytes(content)
    result = get_repos(cfg, tmp_path)
    assert_clean_failure(result)
    for name in SHAPE_CASES:
        assert f"{cfg / name}:1:" in result.stderr, (name, result.stderr)
    assert result.stderr.count("must be a mapping") == 3 and "missing apiVersion or kind" in result.stderr


def test_five_megabyte_config_loads(tmp_path: Path) -> None:
    """5 MB of legitimate configuration (many objects, long annotations) loads and lists every object."""
    docs = []
    size = 0
    count = 0
    while size < 5 * 1024 * 1024:
        doc = repo_doc(f"app-{count}", extra="").replace(
            "  namespace: default\n", f"  namespace: default\n  annotations: {{note: {'x' * 2000}}}\n")
        docs.append(doc)
        size += len(doc) + 4
        count += 1
    config = tmp_path / "big.yaml"
    config.write_text("---\n".join(docs))
    assert config.stat().st_size >= 5 * 1024 * 1024
    result = get_repos(config, tmp_path)
    assert result.code == 0, result.stderr[-2000:]
    names = {view["name"] for view in result.json()}
    assert len(names) == count and "app-0" in names and f"app-{count - 1}" in names


def _billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic alias bomb: `width ** levels` strings from a few hundred bytes."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * width)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_in_a_config_is_rejected_quickly(tmp_path: Path) -> None:
    bomb = _billion_laughs()
    config = tmp_path / "bomb.yaml"
    # a kind nobody reads: the document must still be refused before anything expands it
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n"
                      + "".join(f"  {line}\n" for line in bomb.splitlines()))
    try:
        result = tagpilot("get", "repositories", "-f", config, "--state", tmp_path / "s", timeout=6)
    except Hung as exc:
        pytest.fail(f"alias bomb: {exc}")
    assert_clean_failure(result)
    assert f"{config}:" in result.stderr and "alias" in result.stderr.lower()


def test_moderate_alias_use_is_fine(tmp_path: Path) -> None:
    """Anchors and aliases as people really use them keep working (one anchor, a few references)."""
    config = tmp_path / "anchors.yaml"
    config.write_text(repo_doc("a", extra="  exclusionList: &ex ['^dev-', '\\.sig$']\n") + "---\n"
                      + repo_doc("b", extra="  exclusionList: ['^dev-', '\\.sig$']\n"))
    result = get_repos(config, tmp_path)
    assert result.code == 0, result.stderr
    assert [v["spec"]["exclusionList"] for v in result.json()] == [["^dev-", "\\.sig$"]] * 2


@pytest.mark.parametrize(("opener", "closer", "depth"), [
    ("{a: ", "}", 2000),
    ("[", "]", 2000),
    ("[", "]", 200_000),
], ids=["mapping-2k", "sequence-2k", "sequence-200k"])
def test_deeply_nested_yaml_is_a_clear_error(tmp_path: Path, opener: str, closer: str, depth: int) -> None:
    config = tmp_path / "deep.yaml"
    config.write_text(repo_doc("deep", extra=f"  extra: {opener * depth}1{closer * depth}\n"))
    result = get_repos(config, tmp_path)
    assert_clean_failure(result)
    assert f"{config}:" in result.stderr


def test_moderately_nested_yaml_reports_the_unknown_field(tmp_path: Path) -> None:
    config = tmp_path / "nested.yaml"
    config.write_text(repo_doc("nest", extra=f"  extra: {'{a: ' * 200}1{'}' * 200}\n"))
    result = get_repos(config, tmp_path)
    assert_clean_failure(result)
    assert f"{config}:10: ImageRepository/default/nest: field spec.extra: unknown field" in result.stderr


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    config = tmp_path / "dup.yaml"
    config.write_text(repo_doc("dup", extra="  image: registry.invalid/other\n"))
    result = get_repos(config, tmp_path)
    assert_clean_failure(result)
    assert f"{config}:10:" in result.stderr and "image" in result.stderr


def test_object_names_with_path_separators_are_rejected(tmp_path: Path) -> None:
    cases = [("../../etc/passwd", "default"), ("a/b", "default"), ("ok", "../x"), ("x:y", "default"),
             ("UPPER", "default")]
    config = tmp_path / "names.yaml"
    config.write_text("---\n".join(repo_doc(f'"{name}"', namespace=f'"{ns}"') for name, ns in cases))
    result = get_repos(config, tmp_path)
    assert_clean_failure(result)
    for name, ns in cases:
        assert f"ImageRepository/{ns}/{name}: field metadata." in result.stderr, (name, result.stderr)


def test_object_names_with_path_separators_write_nothing_outside_the_state(
        registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    """Whatever the names, scanning writes only inside the state directory (nothing lands at `../..`)."""
    push_tags(registry, repo_name, ["1.0.0"])
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    config = tmp_path / "names.yaml"
    config.write_text(repo_doc('"../../../evil"', f"{registry.host}/{repo_name}", namespace='"../../x"')
                      + "---\n" + repo_doc('"/abs/evil"', f"{registry.host}/{repo_name}"))
    before = {p for p in tmp_path.rglob("*")}
    result = tagpilot("scan", "-f", config, "--state", work / "state", "-o", "json", cwd=work)
    assert "Traceback" not in result.stderr
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(work / "state" in p.parents or p == work / "state" for p in created), created
    assert result.code == 2  # such names are not Kubernetes names: refused before anything runs
    assert "metadata.name" in result.stderr and "metadata.namespace" in result.stderr


# -- regular expressions ---------------------------------------------------------------------------


BAD_PATTERNS = {
    "backref": "(a)\\1",  # backreference: not RE2
    "lookahead": "(?=a)",  # lookaround: not RE2
    "huge-repeat": "((((((((((a{1000}){1000}){1000})))))))))",  # beyond RE2's program size limit
    "bad-range": "[z-a]",
}


def test_bad_exclusion_regexes_name_object_and_field(tmp_path: Path) -> None:
    config = tmp_path / "re.yaml"
    config.write_text("---\n".join(
        repo_doc(name, extra=f"  exclusionList:\n    - '^ok$'\n    - '{pattern}'\n")
        for name, pattern in BAD_PATTERNS.items()))
    result = get_repos(config, tmp_path)
    assert_clean_failure(result)
    lines = result.stderr.splitlines()
    for name in BAD_PATTERNS:
        ours = [ln for ln in lines if f"ImageRepository/default/{name}: field spec.exclusionList" in ln]
        assert ours and "invalid regular expression" in ours[0], (name, result.stderr[-3000:])
        assert len(ours[0]) < 12_000  # the message does not balloon
    assert result.stderr.count(f"{config}:") == len(BAD_PATTERNS)


def test_regex_nesting_limit_matches_go() -> None:
    from tagpilot.regex import RegexError, compile_regex

    compile_regex("(" * 900 + "a" + ")" * 900)  # within Go's limit
    compile_regex("(a)" * 5000)  # many groups, none deep
    compile_regex("[(]" * 2000 + "\\(" * 2000)  # parentheses that are not groups
    with pytest.raises(RegexError, match="nests too deeply"):
        compile_regex("(" * 5000 + "a" + ")" * 5000)


def test_huge_but_valid_exclusion_regex_and_too_many_entries(tmp_path: Path) -> None:
    alternation = "|".join(f"^tag-{i}$" for i in range(20_000))  # ~250 kB of pattern
    config = tmp_path / "re.yaml"
    config.write_text(repo_doc("big", extra=f"  exclusionList: ['{alternation}']\n") + "---\n"
                      + repo_doc("many", extra="  exclusionList: [" + ", ".join(["'^x$'"] * 26) + "]\n"))
    result = get_repos(config, tmp_path)
    assert_clean_failure(result)
    assert "ImageRepository/default/many: field spec.exclusionList" in result.stderr
    assert "ImageRepository/default/big" not in result.stderr  # the big one is valid


def test_catastrophic_backtracking_patterns_are_linear_in_exclusion_list(
        registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    """`^(a+)+$`-style patterns that hang a backtracking engine are harmless under RE2."""
    evil = ["a" * 127 + "b", "a" * 64 + "!"[:0] + "c", "aaaa"]
    push_tags(registry, repo_name, evil)
    config = tmp_path / "re.yaml"
    config.write_text(repo_doc("evil", f"{registry.host}/{repo_name}",
                               extra="  exclusionList: ['^(a+)+$', '^(a|aa)+$', '(a*)*b$']\n"))
    result = tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 0, result.stderr
    # 'aaaa' matches the first two, the 127 a's + b the third; only the 'c' tag survives
    assert result.json()[0]["status"]["lastScanResult"]["latestTags"] == ["a" * 64 + "c"]


def test_catastrophic_backtracking_in_filter_tags_pattern(tmp_path: Path) -> None:
    long_tags = ["x" * 50_000 + "y", "x" * 50_000, "1.0.0", "x" * 30 + "y"]
    result = tagpilot("policy", "eval", "--alphabetical", "asc", "--pattern", "^(x+x+)+y$", "--explain",
                      "--tags-file", _write(tmp_path / "tags.txt", "\n".join(long_tags) + "\n"))
    assert result.code == 0, result.stderr[-2000:]
    # byte-wise greatest of the matching tags ("x"*30+"y" beats "x"*50000+"y" at byte 30)
    assert result.stdout.splitlines()[0] == "x" * 30 + "y"
    assert "x" * 50_000 + "\n" not in result.stdout.split("\n", 1)[0]


def test_policy_eval_with_invalid_pattern_is_a_clear_error(tmp_path: Path) -> None:
    result = tagpilot("policy", "eval", "--alphabetical", "asc", "--pattern", "(?<=x)y",
                      "--tags-file", _write(tmp_path / "tags.txt", "a\n"))
    assert result.code in (1, 2) and "Traceback" not in result.stderr
    assert "(?<=x)y" in result.stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- registry tag lists ------------------------------------------------------------------------------

ODD_TAGS = [
    "A", "_", "_x", "1", "0", "00", "1e3", "NaN", "Inf", "0x10", "-".join(["v1"] * 3), "x" * 128,
    "1.0.0_build.5", "1.0.0-rc.1", "UPPER.case-Mixed_1", "v2025.02.03", "9" * 128, "a..b", "a--b", "a__b",
]


def test_odd_but_valid_tags_round_trip(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    """Every tag the distribution grammar allows (`[\\w][\\w.-]{0,127}`) is counted, sorted and shown as is."""
    push_tags(registry, repo_name, ODD_TAGS)
    config = tmp_path / "odd.yaml"
    config.write_text(repo_doc("odd", f"{registry.host}/{repo_name}", extra="  exclusionList: []\n"))
    result = tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 0, result.stderr
    scan = result.json()[0]["status"]["lastScanResult"]
    assert scan["tagCount"] == len(ODD_TAGS)
    assert scan["latestTags"] == sorted(ODD_TAGS, key=lambda t: t.encode(), reverse=True)[:10]


def test_one_hundred_thousand_tags(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    """A repository with 100k tags (10^5 entries, 100 pages of 1000) is listed completely.

    The tags are created straight in the registry's storage as bare tag directories: the tag list
    endpoint lists directory names and reads nothing else, so this is the registry's real answer.
    """
    push_tags(registry, repo_name, ["0.0.0"])
    tags_dir = registry.root / "docker" / "registry" / "v2" / "repositories" / repo_name / "_manifests" / "tags"
    for i in range(100_000):
        os.mkdir(tags_dir / f"1.{i // 1000}.{i % 1000}")
    config = tmp_path / "many.yaml"
    config.write_text(repo_doc("many", f"{registry.host}/{repo_name}") + "---\n" + (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: many}\n"
        "spec:\n  imageRepositoryRef: {name: many}\n  policy: {semver: {range: '>=1.50.0 <1.60.0'}}\n"))
    result = tagpilot("reconcile", "-f", config, "--state", tmp_path / "s", "-o", "json", timeout=120)
    assert result.code == 0, result.stderr[-2000:]
    views = {v["kind"]: v for v in result.json()}
    assert views["ImageRepository"]["status"]["lastScanResult"]["tagCount"] == 100_001
    assert views["ImagePolicy"]["status"]["latestRef"]["tag"] == "1.59.999"


# -- repository trees: symlinks, update paths, broken files, a remote that goes away --------------------

MARKED = 'image: "{image}:1.0.0" # {{"$imagepolicy": "apps:app"}}\n'


def commit_symlink(remote: GitRemote, path: str, target: str) -> str:
    """Add a symbolic link `path -> target` to the remote's branch (git mode 120000), via plumbing."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**remote.env, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        base = ["git", "--git-dir", str(remote.path)]

        def git(*args: str, data: bytes | None = None) -> str:
            return subprocess.run([*base, *args], env=env, input=data, capture_output=True, check=True
                                  ).stdout.decode().strip()

        parent = git("rev-parse", f"refs/heads/{remote.branch}")
        git("read-tree", parent)
        blob = git("hash-object", "-w", "--stdin", data=target.encode())
        git("update-index", "--add", "--cacheinfo", f"120000,{blob},{path}")
        sha = git("commit-tree", git("write-tree"), "-p", parent, "-m", f"link {path}")
        git("update-ref", f"refs/heads/{remote.branch}", sha, parent)
        return sha


def test_update_cli_never_writes_through_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.yaml").write_text(MARKED.format(image="reg.example/app"))
    tree = tmp_path / "tree"
    (tree / "deploy").mkdir(parents=True)
    (tree / "deploy" / "app.yaml").write_text(MARKED.format(image="reg.example/app"))
    (tree / "deploy" / "passwd.yaml").symlink_to("/etc/passwd")
    (tree / "deploy" / "victim.yaml").symlink_to(outside / "victim.yaml")
    (tree / "linked-dir").symlink_to(outside, target_is_directory=True)
    passwd = Path("/etc/passwd").read_bytes()
    result = tagpilot("update", "--path", tree, "--set", "apps:app=reg.example/app:2.0.0")
    assert result.code == 0, result.stderr
    updated = MARKED.format(image="reg.example/app").replace("1.0.0", "2.0.0")
    assert (tree / "deploy" / "app.yaml").read_text() == updated
    assert (outside / "victim.yaml").read_text() == MARKED.format(image="reg.example/app")
    assert Path("/etc/passwd").read_bytes() == passwd
    assert (tree / "deploy" / "victim.yaml").is_symlink() and (tree / "deploy" / "passwd.yaml").is_symlink()
    assert "skipped deploy/victim.yaml: symbolic link not followed" in result.stdout


def _automation_config(image: str, url: str, paths: dict[str, str]) -> str:
    """One repository, policy and GitRepository; one ImageUpdateAutomation per (name, update.path)."""
    return flux_automation_config(image, url, automations=paths, quote_path=True, compact=True, scan_interval="1m",
                                  api="v1beta2", interval="1m", checkout=False, template=UPDATE_TEMPLATE)


def _ready(view: dict) -> dict:
    return next(c for c in view["status"]["conditions"] if c["type"] == "Ready")


def test_update_paths_that_escape_the_repository(registry: RegistryServer, repo_name: str,
                                                 git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.yaml").write_text(MARKED.format(image=image))
    git_remote_file.commit({"deploy/app.yaml": MARKED.format(image=image)}, message="add")
    commit_symlink(git_remote_file, "linked", str(outside))
    commit_symlink(git_remote_file, "deploy/up", "../..")
    head = git_remote_file.head("main")
    paths = {"root": "/", "dotdot": "..", "sneaky": "deploy/../..", "abs": str(outside),
             "linked": "linked", "uplink": "deploy/up"}
    config = tmp_path / "config.yaml"
    config.write_text(_automation_config(image, git_remote_file.url, paths))
    result = tagpilot("reconcile", "-f", config, "--state", tmp_path / "s", "-o", "json", timeout=60)
    assert result.code == 1 and "Traceback" not in result.stderr, result.stderr
    views = {v["name"]: v for v in result.json() if v["kind"] == "ImageUpdateAutomation"}
    for name, path in paths.items():
        ready = _ready(views[name])
        assert ready["status"] == "False", (name, ready)
        assert "update path" in ready["message"] and repr(path) in ready["message"], (name, ready)
        assert f"ImageUpdateAutomation/apps/{name}" in result.stderr
    assert git_remote_file.head("main") == head
    assert (outside / "victim.yaml").read_text() == MARKED.format(image=image)


def test_broken_yaml_next_to_good_yaml(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote,
                                       tmp_path: Path) -> None:
    """The good file is updated, committed and pushed; the broken one stays byte for byte."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    broken = ("{{- if .Values.enabled }}\n" + MARKED.format(image=image) + "  bad: [unclosed\n{{- end }}\n")
    latin1 = ('image: "' + image + ':1.0.0" # {"$imagepolicy": "apps:app"}\nnote: caf\xe9\n').encode("latin-1")
    git_remote_file.commit({"deploy/good.yaml": MARKED.format(image=image), "deploy/helm.yaml": broken,
                            "deploy/latin1.yaml": latin1}, message="add")
    config = tmp_path / "config.yaml"
    config.write_text(_automation_config(image, git_remote_file.url, {"fleet": "./deploy"}))
    result = tagpilot("reconcile", "-f", config, "--state", tmp_path / "s", "-o", "json", timeout=60)
    assert result.code == 0, result.stderr
    assert git_remote_file.read_exact("deploy/good.yaml") == MARKED.format(image=image).replace("1.0.0", "1.1.0")
    assert git_remote_file.read_exact("deploy/helm.yaml") == broken
    shown = subprocess.run(["git", "--git-dir", str(git_remote_file.path), "show", "main:deploy/latin1.yaml"],
                           capture_output=True, check=True, env=git_remote_file.env).stdout
    assert shown == latin1


def test_broken_yaml_is_reported_by_reconcile(registry: RegistryServer, repo_name: str,
                                              git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    broken = MARKED.format(image=image) + "bad: [unclosed\n"
    git_remote_file.commit({"deploy/good.yaml": MARKED.format(image=image), "deploy/broken.yaml": broken},
                           message="add")
    config = tmp_path / "config.yaml"
    config.write_text(_automation_config(image, git_remote_file.url, {"fleet": "./deploy"}))
    result = tagpilot("reconcile", "-f", config, "--state", tmp_path / "s", "-o", "json", timeout=60)
    assert result.code == 0, result.stderr
    assert "deploy/broken.yaml" in result.stderr
    view = next(v for v in result.json() if v["kind"] == "ImageUpdateAutomation")
    assert [f["path"] for f in view["status"]["skippedFiles"]] == ["deploy/broken.yaml"]
    assert "1.1.0" in git_remote_file.read_file("deploy/good.yaml", "main")  # the good file still updated


def test_remote_that_dies_during_push_is_left_as_it_was(registry: RegistryServer, repo_name: str,
                                                        git_remote_file: GitRemote, tmp_path: Path) -> None:
    """receive-pack is killed mid-push (the server goes away): the branch does not move, nothing half-
    written is left, the error is clear; once the remote is back, the next run pushes exactly one commit."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    git_remote_file.commit({"deploy/app.yaml": MARKED.format(image=image)}, message="add")
    head = git_remote_file.head("main")
    hook = git_remote_file.path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\ncat >/dev/null\nkill -9 $PPID\nsleep 5\nexit 1\n")
    hook.chmod(0o755)
    config = tmp_path / "config.yaml"
    config.write_text(_automation_config(image, git_remote_file.url, {"fleet": "./deploy"}))
    state = tmp_path / "s"
    result = tagpilot("reconcile", "-f", config, "--state", state, "-o", "json", timeout=90)
    assert result.code == 1 and "Traceback" not in result.stderr, result.stderr
    view = next(v for v in result.json() if v["kind"] == "ImageUpdateAutomation")
    assert _ready(view)["status"] == "False" and "push" in _ready(view)["message"].lower()
    assert git_remote_file.head("main") == head
    assert git_remote_file.branches() == ["main"]
    assert subprocess.run(["git", "--git-dir", str(git_remote_file.path), "fsck", "--no-progress"],
                          env=git_remote_file.env, capture_output=True).returncode == 0
    hook.unlink()
    again = tagpilot("reconcile", "-f", config, "--state", state, "-o", "json", timeout=90)
    assert again.code == 0, again.stderr
    assert git_remote_file.log("main")[:2] == ["update apps/fleet", "add"]
    assert f"{image}:1.1.0" in git_remote_file.read_file("deploy/app.yaml")
