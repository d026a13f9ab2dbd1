#!/usr/bin/env bash
# Builds a dedicated, minimal root filesystem for the kernel with debootstrap, for
# sandbox.rootfs (runsc mode): the sandbox then sees this tree instead of the host's /usr and
# /etc entries, so host packages and the kernel's packages can differ.
#
#   bash deploy/build-rootfs.sh /var/lib/interpreter-sandbox-rootfs [suite] [mirror]
#   SANDBOX_ROOTFS=/var/lib/interpreter-sandbox-rootfs java -jar target/quarkus-app/quarkus-run.jar
#
# Needs root and network access to a Debian mirror; takes a few minutes and ~600 MB. The tree is
# built next to the target and moved into place only when complete, so a failed run leaves the
# old one usable.
set -euo pipefail

target=${1:?usage: build-rootfs.sh TARGET_DIR [suite] [mirror]}
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}
packages=tini,python3,python3-ipython,python3-matplotlib,python3-numpy,python3-pandas,python3-pil,python3-scipy,python3-sklearn,python3-seaborn,python3-sympy,python3-openpyxl,python3-bs4,fonts-dejavu-core

if [ "$(id -u)" -ne 0 ]; then
  echo "build-rootfs.sh: run as root (debootstrap needs it)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap
fi

work="$target.building"
rm -rf "$work"
debootstrap --variant=minbase --include="$packages" "$suite" "$work" "$mirror"

# What the sandbox needs to exist as mount points (the root is mounted read-only).
mkdir -p "$work/mnt/data" "$work/opt/sandbox" "$work/tmp" "$work/proc"
touch "$work/opt/sandbox/kernel_driver.py"
# The sandbox user (sandbox.user-id, 10001 by default) and a resolver that never leaves the box.
grep -q '^sandbox:' "$work/etc/passwd" || echo 'sandbox:x:10001:10001:sandbox:/mnt/data:/bin/sh' >> "$work/etc/passwd"
grep -q '^sandbox:' "$work/etc/group" || echo 'sandbox:x:10001:' >> "$work/etc/group"
printf '127.0.0.1 localhost sandbox\n::1 localhost\n' > "$work/etc/hosts"
# Nothing the kernel needs: package manager state, caches, docs.
rm -rf "$work"/var/cache/apt/* "$work"/var/lib/apt/lists/* "$work"/usr/share/doc/* "$work"/usr/share/man/*

# Check it can run the kernel before putting it in place.
chroot "$work" /usr/bin/python3 -c 'import IPython, matplotlib_inline, numpy, pandas, matplotlib, PIL; print("rootfs kernel runtime: IPython", IPython.__version__)'
test -x "$work/usr/bin/tini"

rm -rf "$target.old"
if [ -d "$target" ]; then mv "$target" "$target.old"; fi
mv "$work" "$target"
rm -rf "$target.old"
echo "build-rootfs.sh: $target is ready; set sandbox.rootfs=$target (SANDBOX_ROOTFS)"
