#!/usr/bin/env bash
# Installs the real servers and tools the tests run against (Debian packages), when missing.
# As root it installs them; otherwise it says what is missing (and fails in CI, where a
# missing server must never turn into a silently skipped test).
set -euo pipefail
declare -A need=(
  [mosquitto]=mosquitto [turnserver]=coturn [turnutils_stunclient]=coturn [chronyd]=chrony
  [nft]=nftables [ethtool]=ethtool [ip]=iproute2 [openssl]=openssl [miniupnpd]=miniupnpd-nftables
)
missing=()
for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${need[$bin]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "› apt-get install $pkgs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
else
  echo "missing Debian packages: $pkgs (run as root, or: sudo apt-get install $pkgs)" >&2
  [ "${CI:-}" = true ] && exit 1
fi
