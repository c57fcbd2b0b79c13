#!/bin/sh
# make-venv.sh PYTHON VENV: create VENV with PYTHON unless a working one is there. Called by the
# Makefile. Every failure is one sentence on what to do, never a traceback.
set -u
py=$1 venv=$2
say() { echo "make: $*" >&2; }

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  exit 0
fi
if [ -e "$venv" ] || [ -L "$venv/bin/python" ]; then
  say "$venv's Python no longer runs (was its interpreter removed or made unreadable?); making $venv again with $py"
  rm -rf "$venv"
fi
if ! command -v "$py" >/dev/null 2>&1; then
  say "no '$py' on PATH: install Python 3.10-3.13, or name one: make lab PYTHON=/path/to/python3.12"
  exit 1
fi
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || {
  say "'$py' does not run ($(command -v "$py")): fix or remove that interpreter, or name another: make lab PYTHON=python3.12"
  exit 1
}
case $version in
  3.10|3.11|3.12|3.13) ;;
  *) say "kai-labs needs Python 3.10-3.13 and '$py' is $version: name another, e.g. make lab PYTHON=python3.12"
     exit 1 ;;
esac
if ! "$py" -m venv "$venv" >/dev/null 2>"$venv.err"; then
  say "'$py -m venv' failed: $(tail -n 1 "$venv.err") (on Debian/Ubuntu: apt-get install python$version-venv)"
  rm -rf "$venv" "$venv.err"
  exit 1
fi
rm -f "$venv.err"
