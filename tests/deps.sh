#!/bin/sh
# Install every Debian package the build and the tests need; a no-op when all
# are present, so `make check` can call it on every run.
pkgs="gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev libcap-dev
      libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libfuse3-dev shunit2
      python3 coreutils util-linux bsdutils procps iproute2 clang curl redis-server nftables
      runc busybox-static e2fsprogs tmux vim"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing; run 'make deps' as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq $missing >/dev/null
