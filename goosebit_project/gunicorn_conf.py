"""gunicorn settings for `make run` and the Docker image; every value can be overridden by env."""

import multiprocessing
import os

bind = f"{os.environ.get('GOOSEBIT_BIND', '0.0.0.0')}:{os.environ.get('GOOSEBIT_PORT', '60053')}"
# Several workers: every process is stateless, all state is in the database and the storage.
workers = int(os.environ.get("GOOSEBIT_WORKERS", str(max(2, multiprocessing.cpu_count() * 2))))
# Threads keep a long artifact download from blocking the polls of other devices.
worker_class = "gthread"
threads = int(os.environ.get("GOOSEBIT_THREADS", "4"))
keepalive = 30
timeout = 120
graceful_timeout = 30
accesslog = os.environ.get("GOOSEBIT_ACCESS_LOG", None)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
