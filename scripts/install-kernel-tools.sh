#!/bin/sh
# Install Debian's nftables and iptables for the kernel test of kube-proxy's rules
# (tests/kernel/, marker `kernel`): `nft -f` and `iptables-restore` load the rules that
# kai_labs/k8s/proxyrules generates into a network namespace, and real TCP proves them.
# Idempotent: exits 0 at once when both tools exist; otherwise apt-install.sh installs
# them (root or password-less sudo only).
set -eu

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

if have nft && have iptables-restore && have ip; then
    echo "nft and iptables-restore already installed"
    exit 0
fi

sh "$(dirname "$0")/apt-install.sh" install-kernel-tools nftables iptables iproute2
PATH="$PATH:/usr/sbin:/sbin"
nft --version
iptables-restore --version
