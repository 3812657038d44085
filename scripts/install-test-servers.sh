#!/usr/bin/env bash
# Installs the real servers the integration tests run (Debian packages): InfluxDB 1.x (`influxdb`),
# Prometheus 2.42 with promtool (`prometheus`), VictoriaMetrics (`victoria-metrics`), graphite-web with
# whisper (`graphite-web`, `python3-whisper`). Run by `npm test` (pretest) and so by .ci/run.
#
# Idempotent: installs only the packages whose files are missing, and does nothing when all are there.
# The packages' system services are NOT started (a temporary policy-rc.d denies them); if something
# started one anyway, it does not matter: the tests start their own servers with private data dirs on
# random loopback ports (test/support/{influxd,prometheus,victoria-metrics,graphite}.ts).
set -euo pipefail

INFLUXD=/usr/bin/influxd
PACKAGES=()
# need <file> <package>: the package is installed when the file is missing.
need() {
  if [ -e "$1" ]; then echo "$2: $1 present"; else PACKAGES+=("$2"); fi
}
need "$INFLUXD" influxdb
need /usr/bin/prometheus prometheus
need /usr/bin/promtool prometheus
need /usr/bin/victoria-metrics victoria-metrics
need /usr/lib/python3/dist-packages/graphite/render/views.py graphite-web
need /usr/lib/python3/dist-packages/whisper.py python3-whisper
if [ "${#PACKAGES[@]}" -eq 0 ]; then
  echo "test servers already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Deny service starts during the install (invoke-rc.d and deb-systemd-invoke honour policy-rc.d).
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=0
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  ADDED_POLICY=1
fi
cleanup() { if [ "$ADDED_POLICY" = 1 ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(printf '%s\n' "${PACKAGES[@]}" | sort -u)

"$INFLUXD" version
prometheus --version 2>&1 | head -n 1
victoria-metrics -version 2>&1 | head -n 1
