#!/bin/sh
# The citus profile of docker-compose.yml: makes eventtracker's two databases on the
# coordinator and on every worker, with the citus extension, and registers the workers
# with the coordinator in each (Citus keeps its node list per database). Idempotent: it
# runs at every `docker compose --profile citus up`. `manage.py migrate` (the web
# container's entrypoint) then distributes the tables.
set -eu
COORDINATOR=citus-coordinator
WORKERS="citus-worker-1 citus-worker-2"

for database in "$POSTGRES_DB" "$POSTGRES_PII_DB"; do
    for host in $COORDINATOR $WORKERS; do
        until pg_isready -q -h "$host"; do sleep 1; done
        if ! psql -h "$host" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
            psql -h "$host" -d postgres -c "CREATE DATABASE \"$database\""
        fi
        psql -h "$host" -d "$database" -c "CREATE EXTENSION IF NOT EXISTS citus"
    done
    psql -h $COORDINATOR -d "$database" -v ON_ERROR_STOP=1 \
        -c "SELECT citus_set_coordinator_host('$COORDINATOR', 5432)"
    for worker in $WORKERS; do
        # Returns the node's id, the existing one when it is already registered.
        psql -h $COORDINATOR -d "$database" -v ON_ERROR_STOP=1 \
            -c "SELECT citus_add_node('$worker', 5432)"
    done
done
