#!/usr/bin/env bash
# Installs the smoke chart into a sim cluster with plain helm (the pinned one), and waits.
# Usage: ci/smoke-install.sh CLUSTER_NAME
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-demo}"
kubeconfig="$(.venv/bin/sitebox cluster kubeconfig --name "$name")"
helm="${SITEBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sitebox}/tools/bin/helm"
"$helm" upgrade --install smoke tests/fixtures/charts/hello \
  --kubeconfig "$kubeconfig" --namespace smoke --create-namespace --wait --timeout 2m
"$helm" status smoke --kubeconfig "$kubeconfig" --namespace smoke | head -6
echo
echo "demo is up: export KUBECONFIG=$kubeconfig; kubectl get pods -A"
