#!/usr/bin/env bash
# Installs the real servers the integration tests run (Debian packages): InfluxDB 1.x (`influxdb`).
# Run by `npm test` (pretest) and so by .ci/run.
#
# Idempotent: does nothing when /usr/bin/influxd exists. The package's system service is NOT started
# (a temporary policy-rc.d denies it); if something started it anyway, it does not matter: the tests
# start their own influxd with a private config on random loopback ports (test/support/influxd.ts).
set -euo pipefail

INFLUXD=/usr/bin/influxd
if [ -x "$INFLUXD" ]; then
  echo "influxdb: $("$INFLUXD" version 2>/dev/null || echo present) already installed"
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
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends influxdb

"$INFLUXD" version
