#!/bin/sh
# Installs the Debian packages the test suite drives as real peers (Chromium, Dovecot),
# when they are missing.
set -eu
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
[ -x /usr/sbin/dovecot ] || need="$need dovecot-imapd"
[ -n "$need" ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages:$need (install them as root: apt-get install$need)" >&2
  exit 0
fi
echo "installing Debian packages:$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $need >/dev/null
