#!/bin/sh
# Install the proxy JupyterHub puts in front of the learners' servers, configurable-http-proxy, from
# workshop/package.json and its lock file into workshop/node_modules (a Node.js program: npm ci). Used by
# a workshop host (README: "Running a workshop") and by the workshop test (tests/workshop/, marker
# `workshop`). Idempotent: does nothing when the installed proxy matches the lock file. Needs Node.js and
# npm; without them it says so and exits 1 (the test then skips, or fails in CI).
set -eu
cd "$(dirname "$0")/../workshop"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-workshop-deps: npm is not installed (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
if [ -x node_modules/.bin/configurable-http-proxy ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    echo "configurable-http-proxy already installed"
    exit 0
fi
npm ci --silent --no-audit --no-fund
node_modules/.bin/configurable-http-proxy --version
