#!/bin/sh
# Install Debian's chromium for the browser tests (tests/browser/, marker `browser`).
# Idempotent: exits 0 at once when /usr/bin/chromium exists; otherwise apt-install.sh
# installs it (root or password-less sudo only).
# (Playwright's own browser download is not used: it needs the internet.)
set -eu

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

sh "$(dirname "$0")/apt-install.sh" install-browser-deps chromium
"$CHROMIUM" --version
