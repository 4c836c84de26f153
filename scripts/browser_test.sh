#!/usr/bin/env bash
# The real-browser tests: JupyterLab on 127.0.0.1 driven by Playwright with Debian's Chromium.
# Installs Chromium when it is missing (as root, with apt); never runs `playwright install`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
    else
        echo "browser_test.sh: /usr/bin/chromium is missing; install it (apt-get install -y chromium) as root" >&2
        exit 1
    fi
fi
exec "${PYTHON:-python3}" -m pytest -q -m browser tests/browser "$@"
