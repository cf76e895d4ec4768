#!/usr/bin/env bash
# Install the Debian packages orderbot needs, only those that are missing, and
# start the services its tests use. Usage: scripts/system-deps.sh [run|test]
set -euo pipefail
what=${1:-run}

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# The browser that keys orders into the portal (Playwright cannot download its
# own here): Debian's Chromium, and its lighter headless shell.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromium-headless-shell ] || need+=(chromium-headless-shell)
if [ "$what" = test ]; then
  command -v pg_ctlcluster >/dev/null || need+=(postgresql)
  [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
  command -v openssl >/dev/null || need+=(openssl)
  # The brokers of the Celery tests (executor: celery).
  command -v redis-server >/dev/null || need+=(redis-server)
  [ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server)
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$what" = test ]; then
  # PostgreSQL for the store contract suite: start the cluster if it is down.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header | while read -r ver name port status _; do
      if [ "$status" != online ]; then
        echo "starting PostgreSQL $ver/$name"
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
      fi
    done
  fi
  # Redis on 127.0.0.1:6379 for the Celery tests: start it if it does not answer.
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; then
    echo "starting Redis on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  # RabbitMQ on 127.0.0.1:5672 (guest/guest) for the same tests on AMQP.
  if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
    echo "starting RabbitMQ on 127.0.0.1:5672"
    rabbitmq-server -detached || true
    for _ in $(seq 1 60); do
      (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break
      sleep 1
    done
  fi
fi
