#!/usr/bin/env python3
"""Checks that two renders hold the same Kubernetes objects.

Usage: compare.py MESHCTL_YAML HELM_YAML

Both files are multi-document YAML streams (`meshctl render` without --out,
`helm template`). Each is parsed into objects keyed by (kind, metadata.name);
the two sets of keys must be equal and every pair of objects equal after
parsing (so key order, quoting style, flow vs block style and Helm's
`# Source:` comments do not matter; values, types and list order do).

Prints a report and exits 0 if the renders are equivalent, 1 if not,
2 on unusable input.
"""
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("compare.py needs PyYAML: pip install pyyaml")

# YAML 1.1 (PyYAML's default) reads `yes`, `no`, `on`, `off` as booleans and
# `1:30` as a sexagesimal integer; meshctl and Helm both write YAML 1.2 /
# JSON. Resolve only the YAML 1.2 core schema so neither side is misread.
class CoreLoader(yaml.SafeLoader):
    pass


CoreLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
import re  # noqa: E402

CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+)$"), list("-+0123456789")
)
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def load(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.load_all(f, Loader=CoreLoader) if d is not None]
    objects, problems = {}, []
    for i, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            problems.append(f"{path}: document {i} is not a map")
            continue
        key = (doc.get("kind"), (doc.get("metadata") or {}).get("name"))
        if key in objects:
            problems.append(f"{path}: {key[0]}/{key[1]} appears twice")
        objects[key] = doc
    return objects, problems


def diff(a, b, path="", out=None):
    """Paths where a and b differ (a: meshctl, b: helm)."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}" if path else str(k)
            if k not in a:
                out.append(f"  {p}: only in helm: {b[k]!r}")
            elif k not in b:
                out.append(f"  {p}: only in meshctl: {a[k]!r}")
            else:
                diff(a[k], b[k], p, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"  {path}: {len(a)} items in meshctl, {len(b)} in helm")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif type(a) is not type(b) or a != b:
        # 1 == 1.0 and True == 1 in Python: compare types too.
        out.append(f"  {path}: meshctl {a!r} ({type(a).__name__}) != helm {b!r} ({type(b).__name__})")
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        mesh, p1 = load(argv[1])
        helm, p2 = load(argv[2])
    except (OSError, yaml.YAMLError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 2
    problems = p1 + p2
    only_mesh = sorted(set(mesh) - set(helm), key=str)
    only_helm = sorted(set(helm) - set(mesh), key=str)
    for kind, name in only_mesh:
        problems.append(f"only in meshctl: {kind}/{name}")
    for kind, name in only_helm:
        problems.append(f"only in helm: {kind}/{name}")
    differing = 0
    for key in sorted(set(mesh) & set(helm), key=str):
        d = diff(mesh[key], helm[key])
        if d:
            differing += 1
            problems.append(f"{key[0]}/{key[1]} differs:")
            problems.extend(d)
    common = len(set(mesh) & set(helm))
    print(
        f"meshctl: {len(mesh)} objects, helm: {len(helm)} objects, "
        f"{common} in both, {common - differing} identical after parsing"
    )
    for line in problems:
        print(line)
    if problems:
        print("RESULT: the renders differ")
        return 1
    print("RESULT: identical object sets (same kinds, names and parsed content)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
