#!/usr/bin/env bash
# Brings what this machine lacks for `npm run demo` and `npm test`, and nothing twice:
#   - bubblewrap (the compute agent's sandbox),
#   - Debian's scientific Python (the training engine's model families),
#   - Debian's Chromium (the dashboard's browser test; UPLET_SETUP_BROWSER=0 skips it),
#   - a stopped local PostgreSQL or RabbitMQ started,
#   - FerretDB built (when MONGO_URL is not set).
# System packages are installed only as root with apt-get; otherwise the exact command
# to run is printed and the script exits 69 (EX_UNAVAILABLE). A second run is instant.
#
# For its own tests, the commands it uses can be pointed elsewhere:
#   UPLET_SETUP_APT_GET, UPLET_SETUP_BWRAP, UPLET_SETUP_PYTHON, UPLET_SETUP_CHROMIUM, UPLET_SETUP_AS_ROOT (1/0).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
apt_get="${UPLET_SETUP_APT_GET:-apt-get}"
bwrap="${UPLET_SETUP_BWRAP:-/usr/bin/bwrap}"
python="${UPLET_SETUP_PYTHON:-/usr/bin/python3}"
chromium="${UPLET_SETUP_CHROMIUM:-/usr/bin/chromium}"
browser="${UPLET_SETUP_BROWSER:-1}"
as_root="${UPLET_SETUP_AS_ROOT:-$([ "$(id -u)" = 0 ] && echo 1 || echo 0)}"
science_packages=(python3-sklearn python3-xgboost python3-optuna python3-pandas)

say() { echo "setup: $*" >&2; }

missing=()
[ -x "$bwrap" ] || missing+=(bubblewrap)
science_present() {
  # dpkg's database answers in milliseconds; importing the stack takes about a second.
  if [ -z "${UPLET_SETUP_PYTHON:-}" ] && command -v dpkg-query >/dev/null 2>&1; then
    local status
    status="$(dpkg-query -W -f='${db:Status-Abbrev}\n' "${science_packages[@]}" 2>/dev/null || true)"
    [ "$(grep -c '^ii' <<<"$status")" = "${#science_packages[@]}" ]
  else
    "$python" -c 'import sklearn, xgboost, optuna, pandas' >/dev/null 2>&1
  fi
}
science_present || missing+=("${science_packages[@]}")
[ "$browser" = 0 ] || [ -x "$chromium" ] || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$as_root" = 1 ] && command -v "$apt_get" >/dev/null 2>&1; then
    say "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! "$apt_get" install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
      say "apt-get install failed; refreshing the package lists and trying once more"
      "$apt_get" update -q >/dev/null
      "$apt_get" install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
    [ -x "$bwrap" ] || { say "bubblewrap is still missing after apt-get install"; exit 69; }
    science_present || { say "Debian's scientific Python is still incomplete after apt-get install"; exit 69; }
    [ "$browser" = 0 ] || [ -x "$chromium" ] || { say "chromium is still missing after apt-get install (UPLET_SETUP_BROWSER=0 skips it)"; exit 69; }
  else
    say "this machine lacks: ${missing[*]}"
    say "run, as root:  apt-get install -y ${missing[*]}"
    [[ " ${missing[*]} " == *" chromium "* ]] && say "(chromium is for the dashboard's browser test only: UPLET_SETUP_BROWSER=0 skips it)"
    exit 69
  fi
fi

# PostgreSQL (FerretDB's store) and RabbitMQ: start them when installed but stopped.
if [ -z "${MONGO_URL:-}" ] && command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  if [ "$as_root" = 1 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  else
    say "PostgreSQL is stopped; run, as root:  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
  fi
fi

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
amqp_host=127.0.0.1 amqp_port=5672
if [ -n "${AMQP_URL:-}" ]; then
  hostport="${AMQP_URL#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
  amqp_host="${hostport%%:*}"; [[ "$hostport" == *:* ]] && amqp_port="${hostport##*:}"
fi
if ! port_open "$amqp_host" "$amqp_port"; then
  if [ -z "${AMQP_URL:-}" ] && [ "$as_root" = 1 ] && command -v rabbitmq-server >/dev/null 2>&1; then
    say "starting RabbitMQ"
    rabbitmq-server -detached
    for _ in $(seq 1 60); do port_open 127.0.0.1 5672 && break; sleep 1; done
    port_open 127.0.0.1 5672 || { say "RabbitMQ did not open port 5672 within 60 s"; exit 69; }
  else
    say "no message broker answers on $amqp_host:$amqp_port; start one (rabbitmq-server -detached) or set AMQP_URL"
    exit 69
  fi
fi

database="MONGO_URL"
if [ -z "${MONGO_URL:-}" ]; then
  bash "$here/local-db/build-ferretdb.sh" >/dev/null || { say "FerretDB could not be built (see above); set MONGO_URL to use another server"; exit 69; }
  database="FerretDB"
fi
say "ready: bubblewrap, scientific Python, $([ "$browser" = 0 ] && echo "no browser (UPLET_SETUP_BROWSER=0)" || echo chromium), message broker, $database"
