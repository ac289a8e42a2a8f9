"""Commit-message template data: Flux's v1 `.Changed` and v1beta1 `.Updated`, rendered as Go would.

Expected outputs come from image-automation-controller's own tests (internal/source/source_test.go),
from the templates of its documentation and CHANGELOG, and from working out Go's text/template,
fmt and fmtsort behaviour on Flux's types (the reasoning is in the comments).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.gitops.commit_data import (
    DEFAULT_MESSAGE,
    ObjectIdentifier,
    build_commit_data,
    render_commit_message,
    split_setter,
)
from tagpilot.gotemplate import TemplateError, TemplateExecError, TemplateParseError
from tagpilot.update.model import Change, ImageRef, ObjectId

DEPLOY = ObjectId(kind="Deployment", api_version="apps/v1", name="podinfo", namespace="default")
KUST = ObjectId(kind="Kustomization", api_version="kustomize.config.k8s.io/v1beta1")
PODINFO = "ghcr.io/stefanprodan/podinfo"
SP = " "  # a significant trailing space in an expected line (an object without a name)


def podinfo_and_nginx() -> tuple[list[Change], dict[str, ImageRef]]:
    """A Deployment with a full-ref marker and a kustomization.yaml with a `:tag` marker."""
    changes = [
        Change("apps/podinfo.yaml", 20, f"{PODINFO}:6.4.0", f"{PODINFO}:6.5.0", "flux-system:podinfo", DEPLOY),
        Change("apps/kustomization.yaml", 7, "1.27.0", "1.27.1", "flux-system:nginx:tag", KUST),
    ]
    images = {"flux-system:podinfo": ImageRef(PODINFO, "6.5.0"), "flux-system:nginx": ImageRef("nginx", "1.27.1")}
    return changes, images


# ---------------------------------------------------------------- upstream's own expectations

# image-automation-controller internal/source/source_test.go (testCommitTemplate): a Deployment
# named `test` without namespace in deploy.yaml, policy test-ns/policy1 at helloworld:1.0.1.
FLUX_TEST_TEMPLATE = """Commit summary

Automation: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Updated.Files -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $_ := .Updated.Objects -}}
{{ if eq $resource.Kind "Deployment" -}}
- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}
{{ else -}}
- {{ $resource.Kind }} {{ $resource.Name }}
{{ end -}}
{{ end -}}

Images:
{{ range .Updated.Images -}}
- {{.}} ({{.Policy.Name}})
{{ end -}}
"""

FLUX_TEST_TEMPLATE_V2 = """Commit summary with ResultV2

Automation: {{ .AutomationObject }}

{{ range $filename, $objchange := .Changed.FileChanges -}}
- File: {{ $filename }}
{{- range $obj, $changes := $objchange }}
  - Object: {{ $obj.Kind }}/{{ $obj.Namespace }}/{{ $obj.Name }}
    Changes:
{{- range $_ , $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
{{ end -}}
"""


def flux_test_data(images: object = None) -> object:
    test = ObjectId(kind="Deployment", api_version="apps/v1", name="test")
    change = Change("deploy.yaml", 17, "helloworld:1.0.0", "helloworld:1.0.1", "test-ns:policy1", test)
    if images is None:
        images = {"test-ns:policy1": ImageRef("helloworld", "1.0.1")}
    return build_commit_data("test-ns", "test-update", [change], images, {})  # type: ignore[arg-type]


def test_flux_source_test_v1beta1_template() -> None:
    expected = """Commit summary

Automation: test-ns/test-update

Files:
- deploy.yaml
Objects:
- deployment test
Images:
- helloworld:1.0.1 (policy1)
"""
    assert render_commit_message(FLUX_TEST_TEMPLATE, flux_test_data()) == expected
    # with a plain list of images the policy is still known: it is the setter of the change
    assert render_commit_message(FLUX_TEST_TEMPLATE, flux_test_data([ImageRef("helloworld", "1.0.1")])) == expected


def test_flux_source_test_v2_template() -> None:
    expected = """Commit summary with ResultV2

Automation: test-ns/test-update

- File: deploy.yaml
  - Object: Deployment//test
    Changes:
    - helloworld:1.0.0 -> helloworld:1.0.1
"""
    assert render_commit_message(FLUX_TEST_TEMPLATE_V2, flux_test_data()) == expected


# ---------------------------------------------------------------- the seeds' v1beta1 templates


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # println adds the newline; images of kustomization.yaml come first (files in byte order)
        ("skip-ci: {{range .Updated.Images}}{{println .}}{{end}}", f"skip-ci: nginx:1.27.1\n{PODINFO}:6.5.0\n"),
        ("{{range .Updated.Images}}{{println .}}{{end}}", f"nginx:1.27.1\n{PODINFO}:6.5.0\n"),
        # ImageRef's other methods, as go-containerregistry answers them
        (
            "{{range .Updated.Images}}{{.Registry}}|{{.Repository}}|{{.Identifier}}|{{.Name}}|{{.Policy}}\n{{end}}",
            "index.docker.io|library/nginx|1.27.1|index.docker.io/library/nginx:1.27.1|flux-system/nginx\n"
            f"ghcr.io|stefanprodan/podinfo|6.5.0|{PODINFO}:6.5.0|flux-system/podinfo\n",
        ),
        # a []ImageRef prints its Stringers
        ("{{ .Updated.Images }}", f"[nginx:1.27.1 {PODINFO}:6.5.0]"),
    ],
)
def test_updated_images_templates(template: str, expected: str) -> None:
    changes, images = podinfo_and_nginx()
    data = build_commit_data("flux-system", "podinfo-auto", changes, images, {})
    assert render_commit_message(template, data) == expected


TUTORIAL_TEMPLATE = """Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Updated.Files -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $_ := .Updated.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
{{ end -}}

Images:
{{ range .Updated.Images -}}
- {{.}}
{{ end -}}
"""


def test_tutorial_template() -> None:
    # `-}}` after range/end eats the newline and the blank line that follow, so the sections touch.
    # Objects are keyed by struct: fmtsort orders them by APIVersion first ("apps/v1" <
    # "kustomize.config.k8s.io/v1beta1"), so the Deployment precedes the Kustomization, whose empty
    # name leaves a trailing space. Images follow the files in byte order: nginx (from
    # apps/kustomization.yaml) before podinfo (apps/podinfo.yaml).
    expected = f"""Automated image update

Automation name: flux-system/podinfo-auto

Files:
- apps/kustomization.yaml
- apps/podinfo.yaml
Objects:
- Deployment podinfo
- Kustomization{SP}
Images:
- nginx:1.27.1
- {PODINFO}:6.5.0
"""
    changes, images = podinfo_and_nginx()
    data = build_commit_data("flux-system", "podinfo-auto", changes, images, {})
    assert render_commit_message(TUTORIAL_TEMPLATE, data) == expected


# ---------------------------------------------------------------- v1 documentation examples

V1_DOCS_TEMPLATE = """Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
"""

V1_DOCS_FUNCS_TEMPLATE = """Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}
  Changes:
{{- range $_, $change := $changes }}
  {{ if contains "5.0.3" $change.NewValue -}}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
  {{ else -}}
    [skip ci] wrong image
  {{ end -}}
{{ end -}}
{{ end -}}
"""


def test_v1_docs_template() -> None:
    # `{{- range` eats the newline after "Changes:"; each change prints "\n    - old -> new\n";
    # `{{ end -}}` eats only what follows it, so the body's newline stays and the next object starts
    # on its own line.
    expected = f"""Automated image update

Automation name: flux-system/podinfo-auto

Files:
- apps/kustomization.yaml
- apps/podinfo.yaml
Objects:
- Deployment podinfo
  Changes:
    - {PODINFO}:6.4.0 -> {PODINFO}:6.5.0
- Kustomization{SP}
  Changes:
    - 1.27.0 -> 1.27.1
"""
    changes, images = podinfo_and_nginx()
    data = build_commit_data("flux-system", "podinfo-auto", changes, images, {})
    assert render_commit_message(V1_DOCS_TEMPLATE, data) == expected


def test_v1_docs_template_with_functions() -> None:
    # The documented template indents oddly, and Go reproduces it: each change prints "\n  " and
    # then the chosen branch, whose leading newline+indent `-}}` removed and whose trailing "\n  "
    # stays, so the next object's "- ..." line starts with two spaces.
    changes = [
        Change("app.yaml", 9, "podinfo:5.0.2", "podinfo:5.0.3", "flux-system:podinfo", DEPLOY),
        Change("app.yaml", 12, "nginx:1.0", "nginx:1.1", "flux-system:nginx", DEPLOY),
        Change("kustomization.yaml", 4, "5.0.2", "5.0.3", "flux-system:podinfo:tag", KUST),
    ]
    data = build_commit_data("flux-system", "podinfo-auto", changes, (), {})
    # Objects() sorts each object's changes by Setter (flux-system:nginx < flux-system:podinfo), so
    # the "wrong image" branch comes first; its "\n  " plus the next change's "\n  " leave a line of
    # two spaces. The template's final newline is eaten by the last `{{ end -}}`.
    expected = (
        "Automated image update\n\nAutomation name: flux-system/podinfo-auto\n\n"
        "Files:\n- app.yaml\n- kustomization.yaml\n"
        "Objects:\n"
        "- deployment podinfo\n  Changes:\n  [skip ci] wrong image\n  \n  - podinfo:5.0.2 -> podinfo:5.0.3\n"
        "  - kustomization \n  Changes:\n  - 5.0.2 -> 5.0.3\n  "
    )
    assert render_commit_message(V1_DOCS_FUNCS_TEMPLATE, data) == expected


def test_values_and_changes() -> None:
    changes, images = podinfo_and_nginx()
    data = build_commit_data("flux-system", "auto", changes, images, {"cluster": "prod", "env": "eu-1"})
    assert (
        render_commit_message("Automated image update by Flux for cluster {{ .Values.cluster }}.", data)
        == "Automated image update by Flux for cluster prod."
    )
    # a missing key is Go's invalid value; a map[string]string prints sorted
    assert render_commit_message("{{ .Values.nope }} {{ .Values }}", data) == "<no value> map[cluster:prod env:eu-1]"
    template = "{{ range .Changed.Changes }}{{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}\n{{ end }}"
    assert render_commit_message(template, data) == (
        "flux-system:nginx:tag: 1.27.0 -> 1.27.1\n"
        f"flux-system:podinfo: {PODINFO}:6.4.0 -> {PODINFO}:6.5.0\n"
    )


def test_values_default_is_empty_map() -> None:
    changes, images = podinfo_and_nginx()
    data = build_commit_data("ns", "a", changes, images)
    assert render_commit_message("{{ .Values.env }}|{{ .Values }}|{{ len .Values }}", data) == "<no value>|map[]|0"


# ---------------------------------------------------------------- printing the Go values


def test_printing_matches_go_fmt() -> None:
    test = ObjectId(kind="Deployment", api_version="apps/v1", name="test")
    change = Change("deploy.yaml", 17, "helloworld:1.0.0", "helloworld:1.0.1", "test-ns:policy1", test)
    data = build_commit_data("test-ns", "test-update", [change], [ImageRef("helloworld", "1.0.1")], {})
    changes = '[{OldValue:"helloworld:1.0.0" NewValue:"helloworld:1.0.1" Setter:"test-ns:policy1"}]'
    # ObjectIdentifier{ResourceIdentifier{TypeMeta{APIVersion, Kind}, NameMeta{Name, Namespace}}}
    # has no String method: fmt prints the nested struct, empty namespace included.
    oid = "{{{apps/v1 Deployment} {test }}}"
    file_changes = '{"deploy.yaml":{' + oid + ":" + changes + "}}"
    cases = {
        "{{ .Changed.Changes }}": changes,
        "{{ .Changed.FileChanges }}": file_changes,
        # Result has no String(); its field FileChanges is a Stringer
        "{{ .Changed }}": "{" + file_changes + "}",
        # TemplateData of Flux v1 has three fields; NamespacedName is a Stringer; Values is a nil map
        "{{ . }}": "{test-ns/test-update {" + file_changes + "} map[]}",
        "{{ range $r, $c := .Changed.Objects }}{{ $r }} {{ $c }}{{ end }}": f"{oid} {changes}",
        "{{ range $r, $_ := .Changed.Objects }}{{ $r.APIVersion }}|{{ $r.Kind }}|{{ $r.Namespace }}{{ end }}": (
            "apps/v1|Deployment|"
        ),
        "{{ .AutomationObject.Namespace }}/{{ .AutomationObject.Name }}": "test-ns/test-update",
        '{{ printf "%T %T" .Changed.Objects .AutomationObject }}': (
            "map[update.ObjectIdentifier]update.Changes types.NamespacedName"
        ),
        "{{ .Changed.ImageResult.Images }}": "[helloworld:1.0.1]",
        '{{ range $f, $r := .Updated.Files }}{{ $f }}={{ len $r.Objects }}{{ end }}': "deploy.yaml=1",
    }
    for template, expected in cases.items():
        assert render_commit_message(template, data) == expected, template


def test_digest_refs() -> None:
    digest = "sha256:" + "ab" * 32
    ref = ImageRef("localhost:5000/org/helloworld", "1.0.1", digest)
    change = Change("d.yaml", 3, "x", str(ref), "ns:p", DEPLOY)
    data = build_commit_data("ns", "a", [change], {"ns:p": ref}, {})
    template = "{{range .Updated.Images}}{{.}}|{{.Identifier}}|{{.Registry}}|{{.Repository}}|{{.Name}}{{end}}"
    # go-containerregistry parses name:tag@digest as a Digest: identifier and Name() use the digest
    assert render_commit_message(template, data) == (
        f"{ref}|{digest}|localhost:5000|org/helloworld|localhost:5000/org/helloworld@{digest}"
    )


# ---------------------------------------------------------------- ordering and de-duplication


def test_objects_range_in_fmtsort_order_and_string_in_flux_order() -> None:
    # fmtsort compares the key struct field by field: APIVersion, Kind, Name, Namespace.
    a = ObjectId(kind="Deployment", api_version="apps/v1", name="b", namespace="a")
    b = ObjectId(kind="Deployment", api_version="apps/v1", name="a", namespace="z")
    c = ObjectId(kind="ConfigMap", api_version="v1", name="a")
    d = ObjectId(kind="CronJob", api_version="batch/v1", name="a")
    changes = [Change("f.yaml", i, "o", f"n{i}", f"ns:p{i}", oid) for i, oid in enumerate([a, b, c, d])]
    data = build_commit_data("ns", "a", changes, (), {})
    template = "{{ range $r, $_ := .Changed.Objects }}{{ $r.Kind }}/{{ $r.Namespace }}/{{ $r.Name }} {{ end }}"
    assert render_commit_message(template, data) == "Deployment/z/a Deployment/a/b CronJob//a ConfigMap//a "
    # ObjectChanges.String() uses Flux's own lessObjectIdentifier: Namespace before Name
    printed = render_commit_message("{{ .Changed.Objects }}", data)
    # (NameMeta prints as {Name Namespace}: a is "{b a}", b is "{a z}")
    assert printed.index("{b a}") < printed.index("{a z}") < printed.index("CronJob") < printed.index("ConfigMap")
    # .Updated.Objects is keyed the same way
    template = "{{ range $r, $_ := .Updated.Objects }}{{ $r.Name }}{{ $r.Namespace }} {{ end }}"
    assert render_commit_message(template, data) == "az ba a a "


def test_changes_deduplicated_and_sorted_objects_aggregated() -> None:
    # The same value rewritten in two containers and in two files: FileChanges keeps every
    # occurrence, Changes() keeps one, Objects() appends the object's changes of every file.
    changes = [
        Change("b.yaml", 1, "2", "3", "flux-system:podinfo:tag", DEPLOY),
        Change("a.yaml", 1, "podinfo:v1.0.0", "podinfo:v1.0.1", "flux-system:podinfo", DEPLOY),
        Change("a.yaml", 9, "podinfo:v1.0.0", "podinfo:v1.0.1", "flux-system:podinfo", DEPLOY),
        Change("a.yaml", 12, "1", "2", "flux-system:replicas", DEPLOY),
    ]
    data = build_commit_data("ns", "a", changes, (), {})
    # Flux's TestResultChangesIsDeterministic: sorted by Setter, OldValue, NewValue
    assert render_commit_message("{{ .Changed.Changes }}", data) == (
        '[{OldValue:"podinfo:v1.0.0" NewValue:"podinfo:v1.0.1" Setter:"flux-system:podinfo"} '
        '{OldValue:"2" NewValue:"3" Setter:"flux-system:podinfo:tag"} '
        '{OldValue:"1" NewValue:"2" Setter:"flux-system:replicas"}]'
    )
    assert render_commit_message("{{ len .Changed.Changes }}", data) == "3"
    # FileChanges: document order within the file, duplicates kept
    template = (
        "{{ range $f, $o := .Changed.FileChanges }}{{ $f }}:{{ range $_, $c := $o }}{{ len $c }}{{ end }} {{ end }}"
    )
    assert render_commit_message(template, data) == "a.yaml:3 b.yaml:1 "
    template = "{{ range $_, $c := .Changed.Objects }}{{ range $c }}{{ .NewValue }},{{ end }}{{ end }}"
    assert render_commit_message(template, data) == "podinfo:v1.0.1,podinfo:v1.0.1,3,2,"


def test_updated_images_dedup_per_ref_and_policy() -> None:
    nginx = ImageRef("nginx", "1.27.1")
    changes = [
        # one policy written through :name and :tag in one object: one image for that object
        Change("a.yaml", 1, "nginx-old", "nginx", "ns:web:name", DEPLOY),
        Change("a.yaml", 2, "1.27.0", "1.27.1", "ns:web:tag", DEPLOY),
        # the same image in another file: Images() lists it once
        Change("b.yaml", 1, "nginx:1.27.0", "nginx:1.27.1", "ns:web", KUST),
        # the same image selected by another policy: Flux compares (ref, policy), so it is listed again
        Change("c.yaml", 1, "nginx:1.27.0", "nginx:1.27.1", "ns:proxy", KUST),
    ]
    data = build_commit_data("ns", "a", changes, {"ns:web": nginx, "ns:proxy": nginx}, {})
    template = "{{ range .Updated.Images }}{{ . }} ({{ .Policy }})\n{{ end }}"
    assert render_commit_message(template, data) == "nginx:1.27.1 (ns/web)\nnginx:1.27.1 (ns/proxy)\n"
    template = "{{ range $r, $refs := .Updated.Objects }}{{ $r.Kind }}={{ len $refs }} {{ end }}"
    # Objects() appends across files: the Kustomization appears in b.yaml and c.yaml
    assert render_commit_message(template, data) == "Deployment=1 Kustomization=2 "


def test_sequence_images_resolved_by_marker_field() -> None:
    digest = "sha256:" + "cd" * 32
    images = [ImageRef("ghcr.io/org/app", "2.0.0", digest), ImageRef("redis", "7.2")]
    changes = [
        Change("values.yaml", 3, "ghcr.io/org/old", "ghcr.io/org/app", "ns:app:name", DEPLOY),
        Change("values.yaml", 4, "1.0.0", "2.0.0", "ns:app:tag", DEPLOY),
        Change("values.yaml", 5, "sha256:" + "00" * 32, digest, "ns:app:digest", DEPLOY),
        Change("cache.yaml", 5, "redis:7.0", "redis:7.2", "ns:cache", KUST),
    ]
    data = build_commit_data("ns", "a", changes, images, {})
    template = "{{ range .Updated.Images }}{{ .Policy.Name }}={{ . }}\n{{ end }}"
    assert render_commit_message(template, data) == f"cache=redis:7.2\napp=ghcr.io/org/app:2.0.0@{digest}\n"


def test_unattributed_images_listed_last_and_full_refs_parsed() -> None:
    # a full-ref marker's new value is the ref even when the caller did not pass it; an image
    # passed but matched by no change is still listed (after the attributed ones)
    changes = [Change("a.yaml", 1, "x:1", "registry.local:5000/x:2", "ns:x", DEPLOY)]
    data = build_commit_data("ns", "a", changes, [ImageRef("other", "9")], {})
    assert render_commit_message("{{ .Updated.Images }}", data) == "[registry.local:5000/x:2 other:9]"
    assert render_commit_message("{{ range .Updated.Images }}{{ .Registry }} {{ end }}", data) == (
        "registry.local:5000 index.docker.io "
    )


def test_document_without_metadata() -> None:
    # a document with no kind/metadata: the zero ObjectIdentifier, as kyaml's GetMeta gives it
    data = build_commit_data("ns", "a", [Change("x.yaml", 1, "a:1", "a:2", "ns:a", None)], (), {})
    assert render_commit_message("{{ range $r, $_ := .Changed.Objects }}[{{ $r }}]{{ end }}", data) == "[{{{ } { }}}]"


# ---------------------------------------------------------------- default message and errors


@pytest.mark.parametrize("template", ["", None])
def test_default_message(template: str | None) -> None:
    changes, images = podinfo_and_nginx()
    data = build_commit_data("ns", "a", changes, images, {})
    assert render_commit_message(template, data) == DEFAULT_MESSAGE == "Update from image update automation"


def test_whitespace_template_is_not_empty() -> None:
    # Flux replaces only the empty string
    assert render_commit_message("  ", build_commit_data("ns", "a", [], (), {})) == "  "


def test_parse_error() -> None:
    with pytest.raises(TemplateParseError) as exc:
        render_commit_message("{{ range .Updated.Images }}", build_commit_data("ns", "a", [], (), {}))
    message = str(exc.value)
    assert message.startswith("unable to create commit message template from spec: template: commit message:1:")
    assert "unexpected EOF" in message


def test_exec_error_names_the_field_and_type() -> None:
    with pytest.raises(TemplateExecError) as exc:
        render_commit_message("{{ .Nope }}", build_commit_data("ns", "a", [], (), {}))
    assert isinstance(exc.value, TemplateError)
    assert str(exc.value).startswith("failed to run template from spec: template: commit message:1:3: ")
    assert "can't evaluate field Nope in type source.TemplateData" in str(exc.value)


def test_no_nonhermetic_functions() -> None:
    with pytest.raises(TemplateParseError, match='function "now" not defined'):
        render_commit_message("{{ now }}", build_commit_data("ns", "a", [], (), {}))


# ---------------------------------------------------------------- setters and properties


@pytest.mark.parametrize(
    ("setter", "expected"),
    [
        ("flux-system:podinfo", ("flux-system:podinfo", "")),
        ("flux-system:podinfo:tag", ("flux-system:podinfo", "tag")),
        ("flux-system:podinfo:name", ("flux-system:podinfo", "name")),
        ("flux-system:podinfo:digest", ("flux-system:podinfo", "digest")),
        # a policy called `tag` in namespace ns is a full-ref marker, not a :tag marker
        ("ns:tag", ("ns:tag", "")),
    ],
)
def test_split_setter(setter: str, expected: tuple[str, str]) -> None:
    assert split_setter(setter) == expected


_text = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=6)
_ids = st.builds(ObjectId, kind=_text, api_version=_text, name=_text, namespace=_text)


@given(st.lists(_ids, min_size=1, max_size=8, unique=True))
def test_objects_range_order_is_field_by_field(ids: list[ObjectId]) -> None:
    changes = [Change("f.yaml", i, "o", "n", "ns:p", oid) for i, oid in enumerate(ids)]
    data = build_commit_data("ns", "a", changes, (), {})
    keys = list(data.Changed.Objects())
    # the engine ranges maps in sorted-key order; that order must be Go's fmtsort order
    from tagpilot.gotemplate.values import sorted_items

    ranged = [k for k, _ in sorted_items(data.Changed.Objects())]
    expected = sorted(keys, key=lambda k: (k.APIVersion(), k.Kind(), k.Name(), k.Namespace()))
    assert ranged == expected


@given(
    st.lists(
        st.tuples(st.sampled_from(["a.yaml", "b.yaml", "c/d.yaml"]), st.sampled_from(["1", "2", "3"]),
                  st.sampled_from(["ns:p", "ns:p:tag", "ns:q"]), st.sampled_from([DEPLOY, KUST, None])),
        max_size=12,
    )
)
def test_changes_is_sorted_set_of_all_changes(rows: list[tuple[str, str, str, ObjectId | None]]) -> None:
    changes = [Change(f, i, "old", new, setter, oid) for i, (f, new, setter, oid) in enumerate(rows)]
    data = build_commit_data("ns", "a", changes, (), {})
    got = [(c.Setter, c.OldValue, c.NewValue) for c in data.Changed.Changes()]
    assert got == sorted({(c.setter, c.old_value, c.new_value) for c in changes})
    # FileChanges keeps every change; Objects() keeps every change too, only regrouped
    assert sum(len(cs) for objs in data.Changed.FileChanges.values() for cs in objs.values()) == len(changes)
    assert sum(len(cs) for cs in data.Changed.Objects().values()) == len(changes)
    # every (ref, policy) of .Updated.Images is distinct
    images = list(data.Updated().Images())
    assert len(images) == len(set(images))


def test_object_identifier_sort_string_is_not_printed() -> None:
    oid = ObjectIdentifier.of(DEPLOY)
    data = build_commit_data("ns", "a", [Change("f", 1, "a", "b", "ns:p", DEPLOY)], (), {})
    assert "\x00" not in render_commit_message("{{ range $r, $_ := .Changed.Objects }}{{ $r }}{{ end }}", data)
    assert oid.Kind() == "Deployment" and oid.Name() == "podinfo"
