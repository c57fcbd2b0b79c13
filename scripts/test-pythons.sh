#!/bin/sh
# test-pythons.sh VERSION...: for each Python version (e.g. 3.10 3.12 3.13), a venv of its own
# (.venv-VERSION, pinned by constraints.txt) runs the unit and cluster tests and lesson 01 under nbval.
# `make test` runs the whole suite on the default Python; together they cover every Python README
# promises. An interpreter is found as pythonVERSION on PATH, else under pyenv's versions/VERSION.*.
# A missing version is skipped with a line saying so, unless KAI_LABS_REQUIRE_PYTHONS=1 (CI), where
# it fails the run.
set -u
cd "$(dirname "$0")/.."
failed="" skipped=""
find_python() {  # the first candidate that runs (a pyenv shim of a version not selected does not)
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for cand in "$(command -v "python$1" 2>/dev/null)" \
              $(ls -d "$root/versions/$1".* 2>/dev/null | sort -t. -k3 -n -r | sed "s|\$|/bin/python$1|"); do
    if [ -n "$cand" ] && "$cand" -c 'import sys' >/dev/null 2>&1; then echo "$cand"; return; fi
  done
}
for v in "$@"; do
  py=$(find_python "$v")
  if [ -z "$py" ]; then
    echo "test-pythons: no Python $v here (pythonVERSION on PATH or a pyenv version)"
    skipped="$skipped $v"
    continue
  fi
  venv=".venv-$v"
  start=$(date +%s)
  echo "== Python $v ($py) in $venv"
  if ! { sh scripts/make-venv.sh "$py" "$venv" &&
         "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'; }; then
    failed="$failed $v(install)"
    continue
  fi
  # one private cluster home and discovery cache per Python (tests make their own below it)
  if ! KAI_LABS_HOME=$(mktemp -d) "$venv/bin/python" -m pytest -p no:cacheprovider -q \
       tests/unit tests/cluster "tests/notebooks/test_lessons.py::test_lesson_reproduces_its_outputs[01-pod-ips-are-not-an-interface]"; then
    failed="$failed $v"
  fi
  echo "== Python $v: $(( $(date +%s) - start )) s"
done
if [ -n "$skipped" ] && [ "${KAI_LABS_REQUIRE_PYTHONS:-0}" = 1 ]; then
  echo "test-pythons: required but missing:$skipped"
  failed="$failed$skipped"
fi
if [ -n "$failed" ]; then
  echo "test-pythons: failed on:$failed"
  exit 1
fi
echo "test-pythons: passed on: $*"
