#!/bin/sh
# Install Debian's nftables and iptables for the kernel test of kube-proxy's rules
# (tests/kernel/, marker `kernel`): `nft -f` and `iptables-restore` load the rules that
# kai_labs/k8s/proxyrules generates into a network namespace, and real TCP proves them.
# Idempotent: exits 0 at once when both tools exist. Runs apt-get update only when the
# package lists do not know nftables yet. Uses sudo only when not root, and only
# password-less sudo (it runs inside `make test`, where a prompt would hang).
set -eu

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

if have nft && have iptables-restore && have ip; then
    echo "nft and iptables-restore already installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"   # never a password prompt in the middle of `make test`
else
    echo "install-kernel-tools: not root and no password-less sudo; install them yourself (sudo apt-get install nftables iptables iproute2)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-kernel-tools: no apt-get here; install nftables, iptables and iproute2 with your package manager" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# `apt-cache policy` prints "Candidate: (none)" (or nothing) when the lists are missing or stale.
if ! apt-cache policy nftables 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q --no-install-recommends nftables iptables iproute2
PATH="$PATH:/usr/sbin:/sbin"
nft --version
iptables-restore --version
