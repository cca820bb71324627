# eventtracker web image: gunicorn serving the Django app, static files baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app \
       --shell /usr/sbin/nologin app

# Dependencies first, so that a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# collectstatic imports the settings, which refuse to load without a secret key;
# this throwaway value exists for this one step only and never reaches the image env.
RUN DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret \
        python manage.py collectstatic --noinput \
    && chmod 0755 docker/entrypoint.sh \
    && mkdir -p /app/data \
    && chown app:app /app/data

# Code stays root-owned and read-only for the app user; only /app/data is writable.
# Without a DATABASE_URL the embedded SQLite files live there (mount a volume on it), the
# personal data in a file of its own; docker-compose.yml points both at PostgreSQL instead.
ENV DATABASE_URL=sqlite:////app/data/db.sqlite3 \
    PII_DATABASE_URL=sqlite:////app/data/pii.sqlite3 \
    GUNICORN_BIND=0.0.0.0:8000

USER app

# matplotlib builds its font cache on first use (about a second); do it at build time.
RUN python -c "import matplotlib.font_manager"

EXPOSE 8000

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
