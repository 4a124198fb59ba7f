#!/usr/bin/env bash
# Installs what the embedded proof (scripts/embedded.sh) needs on Debian 12, and
# nothing that is already there. Safe to run any number of times.
#
#   crossbuild-essential-armhf   arm-linux-gnueabihf-gcc and its C library
#   libc6:armhf                  the multiarch armhf C library qemu-arm runs the programs
#                                against (mbed TLS 3.6 for armhf is cross-built from
#                                Debian's source package: install-mbedtls36.sh --target armhf)
#   qemu-user                    qemu-arm, run explicitly (`qemu-arm ./prog`): no
#                                binfmt_misc registration is needed or relied on
#   gcc-arm-none-eabi            the Cortex-M compiler
#   libnewlib-arm-none-eabi      newlib: its headers for core/'s freestanding compile,
#                                and the C library the bare-metal image links
#                                (scripts/baremetal.sh)
#   qemu-system-arm              the mps2-an386 board the bare-metal image runs on
#
# Debian 12 ships qemu-arm in qemu-user (dynamically linked) and in qemu-user-static;
# either works when called by name, qemu-user is the smaller one.
set -euo pipefail

packages=(crossbuild-essential-armhf libc6:armhf qemu-user gcc-arm-none-eabi
  libnewlib-arm-none-eabi qemu-system-arm)

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
need_root() {
  if ((${#sudo[@]})) && ! command -v sudo >/dev/null 2>&1; then
    echo "install-cross: need root or sudo to $*" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-cross: all ${#packages[@]} packages present"
  exit 0
fi

added_arch=0
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
  need_root "add the armhf architecture"
  echo "install-cross: dpkg --add-architecture armhf"
  "${sudo[@]}" dpkg --add-architecture armhf
  added_arch=1
fi

need_root "install: ${missing[*]}"
echo "install-cross: installing ${missing[*]}"
# apt-get update may exit 100 when one armhf index (seen: bookworm-security's) is
# mid-sync on the mirror; the packages above come from the main suite, so carry on and
# let apt-get install say whether what we need is really there.
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq; then
  echo "install-cross: apt-get update reported errors (see above); trying the install anyway" >&2
fi
# --no-remove: a multiarch resolution must never remove host packages to make room.
# Recommends stay on: the cross compiler needs some of its own.
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove \
  "${missing[@]}" >/tmp/install-cross.$$.log 2>&1; then
  cat /tmp/install-cross.$$.log >&2
  rm -f /tmp/install-cross.$$.log
  echo "install-cross: apt-get install failed. libc6:armhf must have the same version" \
    "as the host's libc6 (Multi-Arch: same): compare 'apt-cache policy" \
    "libc6 libc6:armhf'." >&2
  ((added_arch)) && echo "install-cross: armhf stays added (dpkg --remove-architecture armhf undoes it)" >&2
  exit 1
fi
rm -f /tmp/install-cross.$$.log
echo "install-cross: done"
