#!/usr/bin/env bash
# What the test suite needs from the machine, installed or started when missing:
# Debian's Chromium for the browser tests (never a downloaded browser), and the local PostgreSQL
# server when one is installed (the suite runs on PGlite always and on PostgreSQL when it answers).
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install -y chromium'." >&2
    exit 1
  fi
fi

if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "Starting the local PostgreSQL server..."
    for version in /etc/postgresql/*; do
      pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
    done
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
