#!/usr/bin/env bash
# Install the Debian packages the tests need, only when missing: tshark and clickhouse-server;
# for `tapaudit report --format pdf`, a CJK font (WenQuanYi Micro Hei: the reports print Chinese
# statements and labels) and poppler-utils (pdfinfo, pdftoppm: the report tests read the PDF back).
# WeasyPrint's libraries: pango (in Debian's base image) and harfbuzz-subset (embeds only the glyphs used).
# chromium: the browser tests/ui/test_browser.py drives the dashboard with (Playwright cannot download its own).
# dnsmasq-base: DHCP and DNS in the "cloud" namespace of tests/support/netlab.py (the live-capture lab network).
# mosquitto: the MQTT-over-TLS broker of tests/support/tlslab.py (its captures come from dumpcap, which
# wireshark-common installs with tshark; curl and openssl are in Debian's base image).
# `ensure-debs.sh demo` installs only what `make demo` needs: the CJK font, WeasyPrint's libraries and
# tshark (Wireshark's check of the findings: `tapaudit assess --confirm`, `evidence --dissect`).
# nftables: nft, the redirect rules of `tapaudit intercept` (tests/live/test_intercept.py).
set -euo pipefail
missing=()
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
command -v pdftoppm >/dev/null 2>&1 && command -v pdfinfo >/dev/null 2>&1 || missing+=(poppler-utils)
compgen -G '/usr/lib/*/libpangoft2-1.0.so.0' >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
compgen -G '/usr/lib/*/libharfbuzz-subset.so.0' >/dev/null || missing+=(libharfbuzz-subset0)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
if [ "${1:-}" != demo ]; then
[ -x /usr/sbin/clickhouse-server ] || command -v clickhouse-server >/dev/null 2>&1 || missing+=(clickhouse-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/sbin/nft ] || missing+=(nftables)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
