#!/usr/bin/env bash
# A PostgreSQL streaming replica of the local test cluster, for the read-replica tests
# (tests/foundation/test_read_replica.py): a second Debian cluster on another port, made by
# pg_createcluster and filled by `pg_basebackup -R` from the primary.
#
#   running and streaming        -> nothing to do
#   exists but stopped           -> started (and recreated if it does not stream within a minute)
#   exists but broken            -> dropped and made again
#   missing                      -> made and started
#
# Needs root (or sudo) for the cluster tools. Settings: PRIMARY_HOST/PRIMARY_PORT (the
# primary, 127.0.0.1:5432), REPLICA_PORT (5433), REPLICA_CLUSTER (replica), PG_VERSION.
set -euo pipefail

PRIMARY_HOST="${PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
NAME="${REPLICA_CLUSTER:-replica}"
version="${PG_VERSION:-$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)}"
[ -n "$version" ] || { echo "pg_replica: PostgreSQL is not installed" >&2; exit 1; }
bin="/usr/lib/postgresql/$version/bin"
conf="/etc/postgresql/$version/$NAME"
data="/var/lib/postgresql/$version/$NAME"

say() { printf 'pg_replica: %s\n' "$*"; }
die() { printf 'pg_replica: FAILED: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root runuser -u postgres -- "$@"; }
primary_sql() {
  psql -X -q -A -t -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -c "$1"
}
replica_sql() {
  PGCONNECT_TIMEOUT=3 psql -X -q -A -t -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres \
    -c "$1" 2>/dev/null
}

exists() { pg_lsclusters -h | awk -v v="$version" -v n="$NAME" '$1 == v && $2 == n {f=1} END {exit !f}'; }
state() {  # streaming, waiting (starting, catching up), not_replica (promoted), or nothing
  replica_sql "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 'not_replica'
    WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
    THEN 'streaming' ELSE 'waiting' END" || true
}
streaming() { [ "$(state)" = streaming ]; }
wait_streaming() {
  for _ in $(seq 1 "$1"); do
    case "$(state)" in
      streaming) return 0 ;;
      not_replica) return 1 ;;
    esac
    sleep 1
  done
  return 1
}
start() { as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$NAME" start; }

allow_replication() {
  # The primary lets loopback replication connections in without a password, ahead of any
  # other replication line (a fresh Debian cluster's ask for one).
  local hba
  hba=$(primary_sql "SHOW hba_file")
  if ! as_root grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    say "adding 'host replication all 127.0.0.1/32 trust' to $hba"
    as_root sed -i '1i host replication all 127.0.0.1/32 trust' "$hba"
    primary_sql "SELECT pg_reload_conf()" >/dev/null
  fi
}

SLOT="${NAME}_slot"
drop_slot() {  # the primary's replication slot of a replica that is gone
  primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name = '$SLOT' AND NOT active" >/dev/null || true
}
keep_wal() {
  # A replication slot keeps the WAL the replica has not received (a test stops the replica
  # for a while; without it a busy primary recycles the segments and the replica can never
  # catch up) -- at most this much, so a replica left stopped cannot fill the disk.
  if [ "$(primary_sql "SHOW max_slot_wal_keep_size")" = "-1" ]; then
    say "limiting the WAL a replication slot may keep on the primary to 4GB"
    primary_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '4GB'" >/dev/null
    primary_sql "SELECT pg_reload_conf()" >/dev/null
  fi
}

create() {
  allow_replication
  keep_wal
  drop_slot
  say "creating cluster $version/$NAME on port $REPLICA_PORT from $PRIMARY_HOST:$PRIMARY_PORT"
  as_root pg_createcluster "$version" "$NAME" -p "$REPLICA_PORT" >/dev/null
  as_root find "$data" -mindepth 1 -delete
  as_postgres "$bin/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres \
    -D "$data" -R -X stream -c fast -C -S "$SLOT"
  # The same trust lines as the primary; a hot standby needs these settings at least as
  # high as its primary's, or it refuses to start.
  as_root cp "$(primary_sql "SHOW hba_file")" "$conf/pg_hba.conf"
  as_root chown postgres:postgres "$conf/pg_hba.conf"
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $REPLICA_PORT"
    echo "hot_standby = on"
    for setting in max_connections max_worker_processes max_wal_senders \
      max_prepared_transactions max_locks_per_transaction; do
      echo "$setting = $(primary_sql "SHOW $setting")"
    done
  } | as_root tee "$conf/conf.d/90-replica.conf" >/dev/null
  start || true
  wait_streaming 120 || die "the new replica does not stream (see /var/log/postgresql/postgresql-$version-$NAME.log)"
}

if exists; then
  if streaming; then
    # A test run that died while replay was paused leaves it paused.
    replica_sql "SELECT pg_wal_replay_resume()" >/dev/null || true
    say "$version/$NAME is running and streaming on port $REPLICA_PORT"
    exit 0
  fi
  say "starting $version/$NAME"
  if start && wait_streaming 60; then
    say "$version/$NAME is running and streaming on port $REPLICA_PORT"
    exit 0
  fi
  say "$version/$NAME does not stream: recreating it"
  as_root pg_dropcluster --stop "$version" "$NAME" || true
  as_root rm -rf "$conf" "$data"
  drop_slot
fi
create
say "$version/$NAME is running and streaming on port $REPLICA_PORT"
