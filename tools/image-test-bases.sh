#!/bin/sh
# Offline stand-ins for the base images Dockerfile and docker-compose.yml name, when no image
# registry is reachable: one Debian 12 root file system (debootstrap) imported three times.
# python:3.11-slim is Debian's Python 3.11; postgres:16 is Debian's PostgreSQL 15 behind an
# entrypoint that honours POSTGRES_USER/POSTGRES_DB/POSTGRES_PASSWORD like the official image;
# prom/prometheus:v2.53.0 is Debian's Prometheus 2.42 with the official image's entrypoint.
# Images that already exist are kept (a pulled official image is never overwritten).
set -eu
ROOTFS=${ROOTFS:-/var/tmp/ivr-image-test-rootfs}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
have() { docker image inspect "$1" >/dev/null 2>&1; }
if have python:3.11-slim && have postgres:16 && have prom/prometheus:v2.53.0; then exit 0; fi
if [ ! -x "$ROOTFS/usr/bin/prometheus" ]; then
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python-is-python3,postgresql-15,prometheus,ca-certificates \
        bookworm "$ROOTFS" "$MIRROR"
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
fi
mkdir -p "$ROOTFS/prometheus"
# A TLS-intercepting proxy's CA, if the host trusts one, so pip in the build reaches PyPI.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
    chroot "$ROOTFS" update-ca-certificates >/dev/null
fi
have python:3.11-slim || tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/15/bin' \
    --change 'CMD ["python3"]' - python:3.11-slim
have ivr-debian-base:bookworm || docker tag python:3.11-slim ivr-debian-base:bookworm
CONTEXT=$(mktemp -d)
cat > "$CONTEXT/postgres-entrypoint" <<'SH'
#!/bin/sh
# First start: initdb with the official image's variables; then PostgreSQL in the foreground.
set -eu
export PGDATA=/var/lib/postgresql/data
BIN=/usr/lib/postgresql/15/bin
mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
    chown postgres /tmp/pwfile
    as_pg "$BIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile=/tmp/pwfile \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f /tmp/pwfile
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    as_pg "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "${POSTGRES_DB:-postgres}" != postgres ]; then
        as_pg "$BIN/createdb" -U "${POSTGRES_USER:-postgres}" "$POSTGRES_DB"
    fi
    as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$BIN/postgres" -D "$PGDATA"
SH
chmod 755 "$CONTEXT/postgres-entrypoint"
have postgres:16 || cat > "$CONTEXT/Dockerfile" <<'DOCKERFILE'
FROM ivr-debian-base:bookworm
COPY postgres-entrypoint /usr/local/bin/postgres-entrypoint
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
DOCKERFILE
have postgres:16 || docker build -t postgres:16 "$CONTEXT"
rm -rf "$CONTEXT"
have prom/prometheus:v2.53.0 || docker build -t prom/prometheus:v2.53.0 - <<'DOCKERFILE'
FROM ivr-debian-base:bookworm
EXPOSE 9090
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
DOCKERFILE
