#!/bin/sh
# Container entrypoint: bring both databases' schemas up to date (events in "default",
# personal data in "pii"), then become the given command (gunicorn by default) so that it
# is PID 1 and receives the stop signal directly.
set -eu

python manage.py migrate --noinput
python manage.py migrate --database pii --noinput

exec "$@"
