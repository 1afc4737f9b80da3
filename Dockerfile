# goosebit_project server image: gunicorn with several workers, migrations at start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GOOSEBIT_DATA_DIR=/data \
    GOOSEBIT_PORT=60053

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files are collected at build time and served by whitenoise; no CDN assets.
RUN GOOSEBIT_SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input --verbosity 0 \
    && useradd --system --uid 10001 --home-dir /app goosebit \
    && mkdir -p /data && chown -R goosebit /data

USER goosebit
VOLUME ["/data"]
EXPOSE 60053

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:60053/healthz', timeout=4).status == 200 else 1)"

CMD ["sh", "-c", "python manage.py migrate --no-input && python manage.py ensure_admin && exec gunicorn goosebit_project.wsgi -c goosebit_project/gunicorn_conf.py"]
