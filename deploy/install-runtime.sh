#!/usr/bin/env bash
# Installs what Interpreter Sandbox needs on Debian/Ubuntu, as root. Idempotent: it installs
# only what is missing and does nothing else on a prepared host.
#
#   runsc (gVisor)                 isolation of every sandbox
#   tini                           PID 1 inside each sandbox: reaps orphans, forwards SIGINT
#   python3 + IPython + libraries  the kernel runtime; the host's /usr is the sandbox's /usr
#   a JDK 17                       to build and run the service (skip with --no-jdk); the java it
#                                  chose is linked at /usr/local/bin/interpreter-sandbox-java
#
# Elsewhere (other distributions, macOS): install gVisor's runsc (https://gvisor.dev/docs/user_guide/install/),
# Python 3 with IPython >= 8, matplotlib-inline and the libraries below, and a JDK 17+, then point
# sandbox.runsc.path and sandbox.python at them. Sandboxes need Linux and root (runsc).
set -euo pipefail

RUNTIME_PACKAGES=(
  runsc tini
  python3 python3-ipython python3-matplotlib python3-numpy python3-pandas python3-pil
  python3-scipy python3-sklearn python3-seaborn python3-sympy python3-openpyxl python3-bs4
)
BUILD_PACKAGES=(openjdk-17-jdk-headless curl ca-certificates)

want_jdk=1
for arg in "$@"; do
  case "$arg" in
    --no-jdk) want_jdk=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "install-runtime.sh: run as root (sandboxes need root for runsc anyway)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-runtime.sh: this script supports Debian and Ubuntu (apt). See its header for other systems." >&2
  exit 1
fi

packages=("${RUNTIME_PACKAGES[@]}")
if [ "$want_jdk" = 1 ]; then
  packages+=("${BUILD_PACKAGES[@]}")
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "$want_jdk" = 1 ] && command -v javac >/dev/null 2>&1 \
   && javac -version 2>&1 | awk '{split($2, v, "."); exit !(v[1] >= 17)}'; then
  # A JDK 17+ is already there (any vendor): do not add Debian's.
  filtered=()
  for pkg in "${missing[@]}"; do
    [ "$pkg" = openjdk-17-jdk-headless ] || filtered+=("$pkg")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-runtime.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The java the service runs with, where the systemd unit finds it: the JDK 17+ found above, or
# Debian's, whichever this host uses.
if [ "$want_jdk" = 1 ]; then
  java_bin=$(readlink -f "$(command -v java)")
  "$java_bin" -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); exit !(v[1] >= 17)}' \
    || { echo "install-runtime.sh: $java_bin is older than Java 17" >&2; exit 1; }
  ln -sfn "$java_bin" /usr/local/bin/interpreter-sandbox-java
fi

# Verify what the service will use.
# Not `runsc --version | head -1`: head may close the pipe before runsc wrote its second line, and
# under pipefail runsc's SIGPIPE then failed this script (1 run in 100 here).
runsc_version=$(runsc --version)
echo "${runsc_version%%$'\n'*}"
test -x /usr/bin/tini || { echo "install-runtime.sh: /usr/bin/tini is missing" >&2; exit 1; }
/usr/bin/python3 -c 'import IPython, matplotlib_inline, numpy, pandas, matplotlib, PIL; print("kernel runtime: IPython", IPython.__version__)'
