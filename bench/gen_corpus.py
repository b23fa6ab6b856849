#!/usr/bin/env python3
"""Generates a validation benchmark corpus: FILES files of DOCS documents
each (default 100 x 1000 = 100,000 resources), all valid, mixing the chart's
own rendered objects (renamed per copy) with generated Deployments,
Services, ConfigMaps, Secrets, Jobs, Ingresses, NetworkPolicies, HPAs and
PDBs. Usage: gen_corpus.py OUT_DIR CHART_MANIFESTS_DIR [FILES] [DOCS]"""
import os
import sys

import yaml  # PyYAML


def deployment(i, ns):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  namespace: {ns}
  labels: {{app: web-{i}, tier: frontend}}
  annotations:
    description: "generated deployment {i}"
spec:
  replicas: {1 + i % 5}
  selector:
    matchLabels: {{app: web-{i}}}
  template:
    metadata:
      labels: {{app: web-{i}, tier: frontend}}
    spec:
      securityContext: {{runAsNonRoot: true, runAsUser: 1000}}
      containers:
        - name: web
          image: registry.example.com/web:1.{i % 30}.0
          args: ["--port=8080", "--log-level=info"]
          ports:
            - {{name: http, containerPort: 8080}}
          env:
            - {{name: MODE, value: production}}
            - name: POD_IP
              valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
          readinessProbe: {{httpGet: {{path: /ready, port: http}}, periodSeconds: 5}}
          livenessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 10}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 512Mi}}
"""


def service(i, ns):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: web-{i}
  namespace: {ns}
spec:
  selector: {{app: web-{i}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
"""


def configmap(i, ns):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i}
  namespace: {ns}
data:
  app.properties: |
    server.port=8080
    feature.{i}=true
    cache.size={i % 1000}
  LOG_LEVEL: info
"""


def job(i, ns):
    return f"""apiVersion: batch/v1
kind: Job
metadata:
  name: migrate-{i}
  namespace: {ns}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      securityContext: {{runAsNonRoot: true}}
      containers:
        - name: migrate
          image: registry.example.com/migrate:2.{i % 9}
          command: ["migrate", "up"]
          resources:
            limits: {{cpu: "1", memory: 256Mi}}
"""


def ingress(i, ns):
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web-{i}
  namespace: {ns}
spec:
  ingressClassName: nginx
  rules:
    - host: web-{i}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {{name: web-{i}, port: {{name: http}}}}
"""


def netpol(i, ns):
    return f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-{i}
  namespace: {ns}
spec:
  podSelector: {{matchLabels: {{app: web-{i}}}}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector: {{matchLabels: {{tier: frontend}}}}
      ports:
        - {{protocol: TCP, port: 8080}}
"""


def hpa(i, ns):
    return f"""apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web-{i}
  namespace: {ns}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web-{i}}}
  minReplicas: 1
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
"""


def pdb(i, ns):
    return f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-{i}
  namespace: {ns}
spec:
  minAvailable: 1
  selector:
    matchLabels: {{app: web-{i}}}
"""


GENERATORS = [deployment, service, configmap, job, ingress, netpol, hpa, pdb]


def chart_objects(manifests_dir):
    docs = []
    for name in sorted(os.listdir(manifests_dir)):
        with open(os.path.join(manifests_dir, name)) as f:
            docs.append(yaml.safe_load(f))
    return docs


def main():
    out, chart_dir = sys.argv[1], sys.argv[2]
    files = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    per_file = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    chart = chart_objects(chart_dir)
    os.makedirs(out, exist_ok=True)
    n = 0
    for f in range(files):
        ns = f"team-{f}"
        parts = []
        copy = 0
        while len(parts) < per_file:
            # One chart copy (renamed into its own namespace) per 40 docs.
            if len(parts) % 40 == 0 and len(parts) + len(chart) <= per_file:
                cns = f"tm-{f}-{copy}"
                copy += 1
                for obj in chart:
                    o = yaml.safe_load(yaml.safe_dump(obj))
                    if o["kind"] == "Namespace":
                        o["metadata"]["name"] = cns
                    else:
                        o["metadata"]["namespace"] = cns
                    parts.append(yaml.safe_dump(o, sort_keys=False))
                continue
            gen = GENERATORS[n % len(GENERATORS)]
            parts.append(gen(n, ns))
            n += 1
        with open(os.path.join(out, f"corpus-{f:03}.yaml"), "w") as fh:
            fh.write("---\n".join(parts))
    print(f"{files * per_file} resources in {files} files under {out}")


if __name__ == "__main__":
    main()
