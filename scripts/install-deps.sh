#!/usr/bin/env bash
# Installs every Debian package rcoap needs to build, test, fuzz and
# benchmark, and nothing when they are all there already (so re-runs cost a
# dpkg-query, not an apt-get update). Works as root, or through sudo when
# run by another user. Safe to run any number of times.
#
#   bash scripts/install-deps.sh          install what is missing
#   bash scripts/install-deps.sh --list   print the package list and exit
#   bash scripts/install-deps.sh --check  exit 1 if anything is missing
set -euo pipefail

# What each group is for, so nobody has to guess whether a line can go.
REQUIRED=(
  # build
  build-essential cmake pkg-config git
  # fuzzing (libFuzzer, ASan/UBSan runtimes for clang), llvm-symbolizer
  clang libclang-rt-14-dev llvm
  # libraries
  libcmocka-dev libuv1-dev libssl-dev libwslay-dev libhttp-parser-dev
  libusrsctp-dev  # SCTP over DTLS for WebRTC data channels
  # real peers and wire checks in tests, benchmark reference
  libcoap3-dev libcoap3-bin openssl tshark ncat socat
  # a network namespace of its own (unshare, ip) for tests that need the
  # default ports or a wildcard address; a terminal (script) for output tests
  util-linux iproute2 bsdutils
  # random packet loss in a namespace where the kernel has no sch_netem
  # (tests/interop/test_udp_lossy.sh)
  nftables
  python3 python3-websockets
  # memory checks and load tools
  valgrind wrk iperf3
)
# Wanted, but a missing one must not stop the build or the tests: a test
# that needs one of these checks for it itself and says so when it skips.
OPTIONAL=(
  chromium # browser tests over coap+ws and WebRTC
  python3-aiortc # WebRTC interop (aiortc, aioice): tests/interop/test_webrtc_*
)

die() { echo "install-deps: $*" >&2; exit 1; }

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

# Node.js and npm: a machine may carry NodeSource's nodejs, which bundles npm
# and conflicts with Debian's npm package. Having the commands is enough.
node_wanted() {
  local want=()
  command -v node >/dev/null 2>&1 || is_installed nodejs || want+=(nodejs)
  command -v npm >/dev/null 2>&1 || is_installed npm || want+=(npm)
  echo "${want[@]:-}"
}

missing_of() {
  local p out=()
  for p in "$@"; do is_installed "$p" || out+=("$p"); done
  echo "${out[@]:-}"
}

case "${1:-}" in
  --list) printf '%s\n' "${REQUIRED[@]}" "${OPTIONAL[@]}" nodejs npm; exit 0 ;;
  --check|"") ;;
  *) die "unknown argument: $1 (use --list or --check)" ;;
esac

command -v dpkg-query >/dev/null 2>&1 || die "not a Debian system (no dpkg-query)"

read -r -a miss_req <<<"$(missing_of "${REQUIRED[@]}") $(node_wanted)"
read -r -a miss_opt <<<"$(missing_of "${OPTIONAL[@]}")"

if [ "${#miss_req[@]}" -eq 0 ] && [ "${#miss_opt[@]}" -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "install-deps: missing: ${miss_req[*]} ${miss_opt[*]}"
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: run as root"
  SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q
     -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef
     -o Dpkg::Options::=--force-confold)

# tshark asks whether non-root users may capture; answer it before install.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
  "${SUDO[@]}" debconf-set-selections

echo "install-deps: installing: ${miss_req[*]} ${miss_opt[*]}"
"${APT[@]}" update
if [ "${#miss_req[@]}" -gt 0 ]; then
  "${APT[@]}" install "${miss_req[@]}"
fi
if [ "${#miss_opt[@]}" -gt 0 ]; then
  if ! "${APT[@]}" install "${miss_opt[@]}"; then
    echo "install-deps: WARNING: optional packages not installed:" \
      "${miss_opt[*]} (tests that need them will skip)" >&2
  fi
fi

read -r -a still <<<"$(missing_of "${REQUIRED[@]}")"
[ "${#still[@]}" -eq 0 ] || die "still missing after install: ${still[*]}"
echo "install-deps: done"
