#!/usr/bin/env python3
"""Writes the object set of bench/apply.sh: one Namespace, then OBJECTS
objects in that namespace, a mix of what an application release holds.

    python3 bench/gen_apply_set.py --namespace NS --out DIR [--objects 1000]

Per 20 objects: 4 ConfigMaps, 4 Secrets, 3 ServiceAccounts, 3 Services,
3 Deployments (1 replica), 2 Roles, 1 RoleBinding. Every object is complete
enough to pass `meshctl validate` in its default (strict) mode, so meshctl
applies it as it would a real release. The set is the same for every
namespace except for the namespace itself.

Files are written in apply order, so that `kubectl apply -f DIR` (which
applies files in name order and objects in file order) creates the
Namespace first, as meshctl's tiers do:

    DIR/01-namespace.yaml   the Namespace
    DIR/02-config.yaml      ServiceAccounts, Roles, RoleBindings, ConfigMaps, Secrets
    DIR/03-services.yaml    Services
    DIR/04-workloads.yaml   Deployments
"""

import argparse
import base64
import json
import os
import shutil

# Objects per block of 20, by kind.
MIX = [
    ("ConfigMap", 4),
    ("Secret", 4),
    ("ServiceAccount", 3),
    ("Service", 3),
    ("Deployment", 3),
    ("Role", 2),
    ("RoleBinding", 1),
]
BLOCK = sum(n for _, n in MIX)


def labels(app):
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": "apply-bench",
        "app.kubernetes.io/managed-by": "bench",
    }


def config_map(ns, i):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"config-{i:04d}", "namespace": ns, "labels": labels(f"app-{i % 50:02d}")},
        "data": {
            "LOG_LEVEL": "info",
            "FEATURE_FLAGS": "search,export,audit",
            "settings.json": json.dumps({"id": i, "timeoutSeconds": 30, "retries": 3, "endpoint": f"http://svc-{i:04d}:8080"}),
        },
    }


def secret(ns, i):
    token = base64.b64encode(f"token-{i:04d}-not-a-real-secret".encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"secret-{i:04d}", "namespace": ns, "labels": labels(f"app-{i % 50:02d}")},
        "type": "Opaque",
        "data": {"token": token, "username": base64.b64encode(b"bench").decode()},
    }


def service_account(ns, i):
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": f"sa-{i:04d}", "namespace": ns, "labels": labels(f"app-{i:04d}")},
        "automountServiceAccountToken": False,
    }


def service(ns, i):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{i:04d}", "namespace": ns, "labels": labels(f"app-{i:04d}")},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": f"app-{i:04d}"},
            "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def deployment(ns, i):
    app = f"app-{i:04d}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": app, "namespace": ns, "labels": labels(app)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": {
                "metadata": {"labels": labels(app)},
                "spec": {
                    "serviceAccountName": f"sa-{i:04d}",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.example.com/bench/app:1.0.0",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["--listen=:8080", f"--instance={i}"],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": f"config-{i:04d}", "key": "LOG_LEVEL"}}},
                                {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": f"secret-{i:04d}", "key": "token"}}},
                            ],
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "32Mi"},
                                "limits": {"cpu": "100m", "memory": "64Mi"},
                            },
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def role(ns, i):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": f"role-{i:04d}", "namespace": ns, "labels": labels(f"app-{i:04d}")},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [f"secret-{i:04d}"], "verbs": ["get"]},
        ],
    }


def role_binding(ns, i):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"role-{i:04d}", "namespace": ns, "labels": labels(f"app-{i:04d}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"role-{i:04d}"},
        "subjects": [{"kind": "ServiceAccount", "name": f"sa-{i:04d}", "namespace": ns}],
    }


MAKERS = {
    "ConfigMap": config_map,
    "Secret": secret,
    "ServiceAccount": service_account,
    "Service": service,
    "Deployment": deployment,
    "Role": role,
    "RoleBinding": role_binding,
}
FILE_OF = {
    "ServiceAccount": "02-config.yaml",
    "Role": "02-config.yaml",
    "RoleBinding": "02-config.yaml",
    "ConfigMap": "02-config.yaml",
    "Secret": "02-config.yaml",
    "Service": "03-services.yaml",
    "Deployment": "04-workloads.yaml",
}
# Within 02-config.yaml, identities and RBAC first (as meshctl's tier keeps file order).
ORDER = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Service", "Deployment"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--objects", type=int, default=1000, help="objects besides the Namespace (a multiple of %d)" % BLOCK)
    args = parser.parse_args()
    if args.objects <= 0 or args.objects % BLOCK:
        parser.error(f"--objects must be a positive multiple of {BLOCK}")
    blocks = args.objects // BLOCK
    counts = {kind: n * blocks for kind, n in MIX}

    files = {"01-namespace.yaml": [{
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": args.namespace, "labels": {"app.kubernetes.io/part-of": "apply-bench"}},
    }]}
    for kind in ORDER:
        for i in range(counts[kind]):
            files.setdefault(FILE_OF[kind], []).append(MAKERS[kind](args.namespace, i))

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    total = 0
    for name, objects in sorted(files.items()):
        with open(os.path.join(args.out, name), "w") as f:
            # JSON is YAML; one document per object keeps both parsers on
            # their ordinary path.
            f.write("".join("---\n" + json.dumps(o, indent=1) + "\n" for o in objects))
        total += len(objects)
    print(total)


if __name__ == "__main__":
    main()
