#!/usr/bin/env bash
# Installs what the web example and its tests (tests/export/test_web.py) need, when missing:
#   - Chromium at /usr/bin/chromium (Debian's package; playwright-core drives this browser,
#     it does not download its own), installed with apt-get when we are root;
#   - Node.js and npm (Debian's packages, when root and `node` is missing);
#   - examples/web/node_modules, by `npm ci` from package-lock.json, redone when the lock file
#     is newer than the last install.
# Used by `make test-web` and .ci/run. Exits non-zero, saying what to do, when it cannot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

CHROMIUM="${NNDSL_CHROMIUM:-/usr/bin/chromium}"
apt_packages=()
[[ -x "$CHROMIUM" ]] || apt_packages+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || apt_packages+=(nodejs npm)

if ((${#apt_packages[@]})); then
    if [[ "$(id -u)" != 0 ]]; then
        echo "install_deps: missing ${apt_packages[*]}; install them as root, e.g." >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${apt_packages[*]}" >&2
        exit 1
    fi
    echo "install_deps: apt-get install ${apt_packages[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
fi

# onnxruntime-node's postinstall would fetch CUDA libraries from outside the npm registry; the
# CPU build is in the package (.npmrc says the same for a plain `npm ci`).
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.nndsl-npm-ci
if [[ ! -f "$stamp" || package-lock.json -nt "$stamp" ]]; then
    echo "install_deps: npm ci in $(pwd)"
    npm ci --no-audit --no-fund
    touch "$stamp"
fi
