#!/usr/bin/env python3
"""Validates Weir's Kubernetes manifests offline.

    validate.py [DIR] [-k VERSION ...]   every *.yaml under DIR (default: this folder)
    validate.py --self-test              breaks copies of the manifests on purpose, one way at a
                                         time, and checks that each break is refused

Checks, with no network (the JSON schemas of the Kubernetes API ship in the PyPI package
kubernetes-validate, python/requirements-dev.txt):
  - every resource against the schema of its kind and apiVersion, strictly (unknown fields are
    errors), for each Kubernetes version given (-k; default: 1.28 and 1.37); a kind without a
    schema (a removed apiVersion, a typo) is an error, not a warning;
  - kustomization.yaml: each listed resource exists, and each manifest of DIR (not under
    examples/) is listed;
  - what the API server or the kubelet would refuse later, which schemas do not see: a
    workload's selector matches its pod template's labels; every configMapKeyRef,
    secretKeyRef and persistentVolumeClaim names an object (and key) defined in DIR.
Exit status: 0 all valid, 1 something invalid (each problem printed), 2 cannot validate.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

try:
    import yaml
    import kubernetes_validate.utils as kv
except ImportError as e:  # pragma: no cover - environment problem, not a manifest problem
    sys.stderr.write("validate.py: %s; install python/requirements-dev.txt "
                     "(scripts/install-deps.sh makes .venv with it)\n" % e)
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VERSIONS = ["1.28", "1.37"]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def manifest_files(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return out


def load(root, rel, problems):
    try:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            return [doc for doc in yaml.safe_load_all(f) if doc]
    except (OSError, yaml.YAMLError) as e:
        problems.append("%s: cannot be read as YAML: %s" % (rel, str(e).replace("\n", " ")))
        return []


def name_of(res):
    return "%s/%s" % (res.get("kind", "?"), (res.get("metadata") or {}).get("name", "?"))


def check_schema(rel, res, versions, problems):
    if not isinstance(res, dict) or "kind" not in res or "apiVersion" not in res:
        problems.append("%s: a document without kind or apiVersion" % rel)
        return
    for v in versions:
        try:
            kv.validate(res, v, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(top)"
            problems.append("%s: %s (Kubernetes %s): %s: %s" % (rel, name_of(res), v, path, e.message))
        except kv.SchemaNotFoundError as e:
            problems.append("%s: %s: %s" % (rel, name_of(res), e.message))
        except kv.VersionNotSupportedError as e:
            raise SystemExit("validate.py: kubernetes-validate has no schemas of Kubernetes %s" % e.version)


def check_kustomization(root, files, problems):
    path = os.path.join(root, "kustomization.yaml")
    if not os.path.exists(path):
        problems.append("kustomization.yaml: missing")
        return
    docs = load(root, "kustomization.yaml", problems)
    if not docs:
        return
    k = docs[0]
    listed = k.get("resources") or []
    for r in listed:
        if not os.path.exists(os.path.join(root, r)):
            problems.append("kustomization.yaml: lists %s, which does not exist" % r)
    for f in files:
        if f == "kustomization.yaml" or f.startswith("examples" + os.sep):
            continue
        if f not in listed:
            problems.append("kustomization.yaml: does not list %s" % f)


def pod_spec(res):
    spec = res.get("spec") or {}
    if res.get("kind") in WORKLOADS:
        return ((spec.get("template") or {}).get("spec")) or {}
    if res.get("kind") == "Pod":
        return spec
    return None


def check_references(resources, problems):
    """Selectors against template labels; ConfigMap, Secret and claim names (and keys)."""
    data = {}
    for _, res in resources:
        kind = res.get("kind")
        if kind in ("ConfigMap", "Secret"):
            keys = set((res.get("data") or {}).keys()) | set((res.get("stringData") or {}).keys())
            data[(kind, res["metadata"]["name"])] = keys
        elif kind == "PersistentVolumeClaim":
            data[(kind, res["metadata"]["name"])] = set()
    templates = {}
    for _, res in resources:
        if res.get("kind") == "StatefulSet":
            for t in (res.get("spec") or {}).get("volumeClaimTemplates") or []:
                templates[t["metadata"]["name"]] = True

    def ref(rel, res, kind, name, key=None):
        if (kind, name) not in data:
            problems.append("%s: %s refers to %s %s, defined nowhere here" % (rel, name_of(res), kind, name))
        elif key is not None and key not in data[(kind, name)]:
            problems.append("%s: %s refers to key %s of %s %s, which has no such key" % (rel, name_of(res), key, kind, name))

    for rel, res in resources:
        spec = pod_spec(res)
        if spec is None:
            continue
        if res.get("kind") != "Job":
            want = ((res.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            have = (((res.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not want or any(have.get(k) != v for k, v in want.items()):
                problems.append("%s: %s: spec.selector.matchLabels %s does not match the pod template's labels %s"
                                % (rel, name_of(res), want, have))
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                if "configMapKeyRef" in vf:
                    ref(rel, res, "ConfigMap", vf["configMapKeyRef"].get("name"), vf["configMapKeyRef"].get("key"))
                if "secretKeyRef" in vf:
                    ref(rel, res, "Secret", vf["secretKeyRef"].get("name"), vf["secretKeyRef"].get("key"))
            for ef in c.get("envFrom") or []:
                if "configMapRef" in ef:
                    ref(rel, res, "ConfigMap", ef["configMapRef"].get("name"))
                if "secretRef" in ef:
                    ref(rel, res, "Secret", ef["secretRef"].get("name"))
            volumes = {v.get("name") for v in spec.get("volumes") or []} | set(templates)
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    problems.append("%s: %s mounts volume %s, which the pod does not define"
                                    % (rel, name_of(res), m.get("name")))
        for v in spec.get("volumes") or []:
            if "persistentVolumeClaim" in v:
                ref(rel, res, "PersistentVolumeClaim", v["persistentVolumeClaim"].get("claimName"))
            if "configMap" in v:
                ref(rel, res, "ConfigMap", v["configMap"].get("name"))
            if "secret" in v:
                ref(rel, res, "Secret", v["secret"].get("secretName"))


def validate_dir(root, versions, quiet=False):
    """Returns the list of problems found (empty: valid)."""
    problems = []
    files = manifest_files(root)
    if not files:
        return ["%s: no manifests" % root]
    resources = []
    for rel in files:
        for res in load(root, rel, problems):
            if rel == "kustomization.yaml":
                continue
            check_schema(rel, res, versions, problems)
            if isinstance(res, dict) and isinstance(res.get("metadata"), dict):
                resources.append((rel, res))
    check_kustomization(root, files, problems)
    check_references(resources, problems)
    if not quiet:
        print("validate: %d files, %d resources, Kubernetes %s: %s" %
              (len(files), len(resources), ", ".join(versions),
               "valid" if not problems else "%d problems" % len(problems)))
    return problems


# --self-test: each break is (file, description, edit of the file's text, expected message).
BREAKS = [
    ("worker.yaml", "a misspelt field", lambda t: t.replace("readOnlyRootFilesystem", "readOnlyRootFilesytem", 1),
     r"Additional properties are not allowed \('readOnlyRootFilesytem'"),
    ("coordinator.yaml", "a string where a number goes", lambda t: t.replace("replicas: 2", "replicas: two", 1),
     r"spec\.replicas: 'two' is not of type 'integer'"),
    ("worker.yaml", "a required field removed (the container's name)",
     lambda t: t.replace("        - name: worker\n          image:", "        - image:", 1),
     r"'name' is a required property"),
    ("etcd.yaml", "an apiVersion Kubernetes no longer serves", lambda t: t.replace("apiVersion: apps/v1", "apiVersion: apps/v1beta1", 1),
     r"Couldn't find schema for kind StatefulSet with api version apps/v1beta1"),
    ("coordinator.yaml", "a port number given as a string", lambda t: t.replace("containerPort: 6123", 'containerPort: "6123"', 1),
     r"containerPort: '6123' is not of type 'integer'"),
    ("namespace.yaml", "YAML that does not parse", lambda t: t + "  bad: [unclosed\n", r"cannot be read as YAML"),
    ("kustomization.yaml", "a resource missing from the kustomization", lambda t: t.replace("  - worker.yaml\n", "", 1),
     r"does not list worker\.yaml"),
    ("kustomization.yaml", "a kustomization that lists a file that is not there",
     lambda t: t.replace("  - worker.yaml\n", "  - worker.yaml\n  - workers.yaml\n", 1), r"lists workers\.yaml, which does not exist"),
    ("worker.yaml", "a selector that does not match the pod template",
     lambda t: t.replace("  selector:\n    matchLabels:\n      app.kubernetes.io/name: weir\n      app.kubernetes.io/component: worker",
                         "  selector:\n    matchLabels:\n      app.kubernetes.io/name: weir\n      app.kubernetes.io/component: workers", 1),
     r"selector\.matchLabels .* does not match the pod template's labels"),
    ("coordinator.yaml", "a ConfigMap key that is not defined", lambda t: t.replace("key: WEIR_HA", "key: WEIR_HA_URL", 1),
     r"refers to key WEIR_HA_URL of ConfigMap weir-config"),
    ("worker.yaml", "a claim that is not defined", lambda t: t.replace("claimName: weir-shared", "claimName: weir-checkpoints", 1),
     r"refers to PersistentVolumeClaim weir-checkpoints, defined nowhere here"),
]


def self_test(root, versions):
    failures = 0
    base = validate_dir(root, versions, quiet=True)
    if base:
        print("self-test: the manifests themselves are invalid:\n  " + "\n  ".join(base))
        return 1
    for rel, what, edit, expect in BREAKS:
        with tempfile.TemporaryDirectory(prefix="weir-k8s-broken-") as tmp:
            copy = os.path.join(tmp, "kubernetes")
            shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
            path = os.path.join(copy, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            broken = edit(text)
            if broken == text:
                print("FAIL %s: %s: the edit did not apply (the manifest changed?)" % (rel, what))
                failures += 1
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(broken)
            problems = validate_dir(copy, versions, quiet=True)
            if any(re.search(expect, p) for p in problems):
                print("ok   %s: %s: refused" % (rel, what))
            else:
                print("FAIL %s: %s: not refused as expected (/%s/); problems found: %s" % (rel, what, expect, problems or "none"))
                failures += 1
    print("self-test: %d breaks, %d refused as expected" % (len(BREAKS), len(BREAKS) - failures))
    return 1 if failures else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", default=HERE)
    ap.add_argument("-k", "--kubernetes-version", action="append", dest="versions",
                    help="Kubernetes version to validate against (repeatable; default %s)" % ", ".join(DEFAULT_VERSIONS))
    ap.add_argument("--self-test", action="store_true", help="check that broken copies of the manifests are refused")
    a = ap.parse_args(argv)
    versions = a.versions or DEFAULT_VERSIONS
    if a.self_test:
        return self_test(a.dir, versions)
    problems = validate_dir(a.dir, versions)
    for p in problems:
        print("ERROR " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
