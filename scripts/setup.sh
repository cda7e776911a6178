#!/usr/bin/env bash
# setup.sh - install what building and testing drctl needs on a Debian 12
# machine of this project's kind; idempotent, quiet on success (one summary
# line on stderr).
#
# Installs, with apt-get and only when missing (checked with dpkg-query), the
# build tool chain and libraries, PostgreSQL 15 and the command-line tools the
# sandbox uses. `apt-get update` runs only when something must be installed.
# When PostgreSQL is installed by this script, Debian's default "main"
# cluster is not created (/etc/postgresql-common/createcluster.conf gets
# create_main_cluster = false if that file does not exist yet): the sandbox
# runs clusters of its own (scripts/sandbox.sh).
#
# Then it checks what apt cannot provide here (there is no PyPI): moto_server,
# the AWS CLI (aws) and python3 with boto3 must already be on PATH (they are
# on this machine kind's image); cfn-lint is checked too.
#
# Usage: scripts/setup.sh [--check]
#   --check   install nothing; exit 1 and list what is missing
# Environment: none. Needs root (or password-less sudo) only to install.
set -euo pipefail

PKGS=(build-essential cmake pkg-config libcurl4-openssl-dev libssl-dev libarchive-dev
  libzstd-dev zstd libjansson-dev libyaml-dev libxml2-dev libpq-dev libinih-dev
  libcriterion-dev postgresql-15 postgresql-client-15 curl chromium)
PGBIN=/usr/lib/postgresql/15/bin

die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

check_only=0
case "${1:-}" in
--check) check_only=1 ;;
"") ;;
*) die "usage: $0 [--check]" ;;
esac

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done

did=""
if [ ${#missing[@]} -gt 0 ]; then
  if [ $check_only = 1 ]; then
    die "missing packages: ${missing[*]}"
  fi
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
      die "missing packages (${missing[*]}); run as root or with password-less sudo"
    fi
    SUDO=(sudo -n)
  fi
  log=$(mktemp /tmp/drctl-setup.XXXXXX.log)
  if [[ " ${missing[*]} " == *" postgresql-15 "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    "${SUDO[@]}" mkdir -p /etc/postgresql-common
    printf 'create_main_cluster = false\n' | "${SUDO[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${SUDO[@]}" apt-get update -q && "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get failed installing: ${missing[*]} (full log: $log)"
  fi
  rm -f "$log"
  for p in "${missing[@]}"; do installed "$p" || die "$p is still not installed after apt-get install"; done
  did="installed ${#missing[@]} package(s): ${missing[*]}; "
fi

# What apt does not provide here.
problems=()
command -v moto_server >/dev/null || problems+=("moto_server (Python package moto[server]) not on PATH")
command -v aws >/dev/null || problems+=("the AWS CLI (aws) not on PATH")
command -v python3 >/dev/null || problems+=("python3 not on PATH")
if command -v python3 >/dev/null && ! python3 -c 'import boto3' 2>/dev/null; then
  problems+=("python3 cannot import boto3")
fi
command -v cfn-lint >/dev/null || problems+=("cfn-lint not on PATH")
for t in initdb pg_ctl postgres; do
  [ -x "$PGBIN/$t" ] || problems+=("$PGBIN/$t missing")
done
for t in psql pg_dump pg_restore curl zstd flock setsid; do
  command -v "$t" >/dev/null || problems+=("$t not on PATH")
done
command -v runuser >/dev/null || [ -x /usr/sbin/runuser ] || problems+=("runuser (util-linux) missing")
if [ ${#problems[@]} -gt 0 ]; then
  printf 'setup: error: %s\n' "${problems[@]}" >&2
  die "these come with the machine image (there is no PyPI here); use a machine of this project's kind"
fi

printf 'setup: ok (%s%d packages present; moto_server, aws, boto3, cfn-lint, PostgreSQL 15 found)\n' \
  "$did" "${#PKGS[@]}" >&2
