#!/usr/bin/env bash
# Installs the independent peers Busbar's tests talk to, from Debian's packages:
# socat (virtual serial pairs), python3-pymodbus (Modbus server/client), mbpoll (Modbus master),
# chromium (pages in a real browser), tshark (decodes every BACnet frame the tests send), python3-aiosmtpd (SMTP server for
# the notification tests), libreoffice-calc (reads the CSV exports back with French settings), poppler-utils
# (pdftotext, pdftoppm, pdffonts read the PDF reports); then builds
# bacnet-stack's BACnet tools (bacserv, bacrp...: Debian has no BACnet peer) from ../shared/peers
# into the gitignored .cache/bacnet-stack. Does nothing when they are all present.
set -euo pipefail
shared=${BUSBAR_SHARED:-../shared}
build_bacnet() {
  if [ -f "$shared/peers/bacnet-stack/build.sh" ]; then
    bash "$shared/peers/bacnet-stack/build.sh" .cache/bacnet-stack
  elif [ ! -x .cache/bacnet-stack/bin/bacserv ]; then
    echo "bacnet-stack peer not found ($shared/peers/bacnet-stack): the BACnet peer tests will be skipped" >&2
  fi
}
trap build_bacnet EXIT
packages=(socat python3-pymodbus mbpoll chromium tshark python3-aiosmtpd libreoffice-calc poppler-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "Busbar's tests need Debian packages: ${missing[*]}" >&2
    echo "Install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else SUDO=""; fi
echo "Installing test peers: ${missing[*]}" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
