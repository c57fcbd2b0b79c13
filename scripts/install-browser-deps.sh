#!/bin/sh
# Install Debian's chromium for the browser tests (tests/browser/, marker `browser`).
# Idempotent: exits 0 at once when /usr/bin/chromium exists. Runs apt-get update
# only when the package lists do not know chromium yet. Uses sudo only when not root, and
# only password-less sudo (it runs inside `make test`, where a prompt would hang).
# (Playwright's own browser download is not used: it needs the internet.)
set -eu

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"   # never a password prompt in the middle of `make test`
else
    echo "install-browser-deps: not root and no password-less sudo; install chromium yourself (sudo apt-get install chromium)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser-deps: no apt-get here; install chromium with your package manager" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# `apt-cache policy` prints "Candidate: (none)" (or nothing) when the lists are missing or stale.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q chromium
"$CHROMIUM" --version
