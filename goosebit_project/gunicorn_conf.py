"""gunicorn settings for `make run` and the Docker image; every value can be overridden by env."""

import multiprocessing
import os

bind = f"{os.environ.get('GOOSEBIT_BIND', '0.0.0.0')}:{os.environ.get('GOOSEBIT_PORT', '60053')}"
# Several workers: every process is stateless, all state is in the database and the storage.
# Measured on 2 cores (README "Performance"): more processes with few threads each beat fewer
# processes with many threads, which contend for one GIL.
workers = int(os.environ.get("GOOSEBIT_WORKERS", str(max(2, multiprocessing.cpu_count() * 3))))
# gthread: a second thread per worker keeps a long artifact download from blocking that worker's
# polls. Deployments that hand downloads to nginx (X-Accel) or S3 can use "sync", which is
# cheaper per request.
worker_class = os.environ.get("GOOSEBIT_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GOOSEBIT_THREADS", "2"))
keepalive = 30
timeout = 120
graceful_timeout = 30
accesslog = os.environ.get("GOOSEBIT_ACCESS_LOG", None)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server) -> None:  # noqa: ANN001  (gunicorn's Arbiter)
    """Before any worker runs: remove upload temp files a killed worker left behind."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goosebit_project.settings")
    import django

    django.setup()
    from software.services import upload_temp_cleanup

    removed = upload_temp_cleanup()
    if removed:
        server.log.info("removed %d stale upload temp file(s)", removed)
