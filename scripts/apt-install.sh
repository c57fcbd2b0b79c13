#!/bin/sh
# Install Debian packages for a test helper: `sh scripts/apt-install.sh WHO PACKAGE...`.
# The scripts that need one (install-browser-deps.sh, install-kernel-tools.sh) first check whether
# their tools are already there. This one uses sudo only when not root, and only password-less sudo
# (it runs inside `make test`, where a prompt would hang); it runs apt-get update only when the
# package lists do not know the first package yet.
set -eu

WHO=$1
shift

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"   # never a password prompt in the middle of `make test`
else
    echo "$WHO: not root and no password-less sudo; install them yourself (sudo apt-get install $*)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$WHO: no apt-get here; install $* with your package manager" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# `apt-cache policy` prints "Candidate: (none)" (or nothing) when the lists are missing or stale.
if ! apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q "$@"
