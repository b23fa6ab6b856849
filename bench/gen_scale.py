#!/usr/bin/env python3
"""Generates the scaling corpus of bench/validate.sh: N resources in files
of 1,200, as a multi-service demo application would put them: per unit a
Deployment, a Service selecting its pods and a ServiceAccount (and one
PodDisruptionBudget per 12 units).

  gen_scale.py OUT_DIR N shared   every object in one namespace (none set,
                                  so `default`), every pod labelled
                                  `app: web` as well as its own
                                  `component`, every PDB selecting `app: web`
  gen_scale.py OUT_DIR N spread   the same objects over 100 namespaces with
                                  labels of their own

All objects are valid; the checks across objects (Service selectors and
named targetPorts against pod templates, PDB selectors) have work to do."""
import os
import sys

PER_FILE = 1200


def unit(i, layout):
    ns = "" if layout == "shared" else f"\n  namespace: ns-{i % 100}"
    app = "web" if layout == "shared" else f"web-{i}"
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}{ns}
  labels: {{app: {app}, component: svc-{i}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {app}, component: svc-{i}}}
  template:
    metadata:
      labels: {{app: {app}, component: svc-{i}}}
    spec:
      serviceAccountName: svc-{i}
      securityContext: {{runAsNonRoot: true, runAsUser: 1000}}
      containers:
        - name: server
          image: registry.example.com/demo/svc:1.{i % 7}.0
          ports:
            - {{name: http, containerPort: 8080}}
          readinessProbe: {{httpGet: {{path: /healthz, port: http}}}}
          livenessProbe: {{httpGet: {{path: /healthz, port: http}}}}
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{cpu: 200m, memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{i}{ns}
spec:
  selector: {{app: {app}, component: svc-{i}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: svc-{i}{ns}
"""


def pdb(i, layout):
    ns = "" if layout == "shared" else f"\n  namespace: ns-{i % 100}"
    selector = "{app: web}" if layout == "shared" else f"{{app: web-{i}}}"
    return f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: pdb-{i}{ns}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {selector}
"""


def main():
    out, n, layout = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    assert layout in ("shared", "spread"), layout
    os.makedirs(out, exist_ok=True)
    docs, count, in_file, i, f = [], 0, 0, 0, 0

    def flush():
        nonlocal docs, f, in_file
        if docs:
            with open(os.path.join(out, f"scale-{f:04d}.yaml"), "w") as fh:
                fh.write("---\n".join(docs))
            docs, f, in_file = [], f + 1, 0

    while count < n:
        docs.append(unit(i, layout))
        count, in_file = count + 3, in_file + 3
        if i % 12 == 11 and count < n:
            docs.append(pdb(i, layout))
            count, in_file = count + 1, in_file + 1
        i += 1
        if in_file >= PER_FILE:
            flush()
    flush()
    print(count)


if __name__ == "__main__":
    main()
