#!/bin/sh
# Container entrypoint: bring the schema up to date, then become the given command
# (gunicorn by default) so that it is PID 1 and receives the stop signal directly.
set -eu

python manage.py migrate --noinput

exec "$@"
