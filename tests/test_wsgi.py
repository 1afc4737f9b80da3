"""The WSGI entry point: devices get a handler without operator middleware, operators the full one."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import pytest

from goosebit_project.wsgi import application
from tests.factories import make_device

pytestmark = pytest.mark.django_db(transaction=True)


def serve(environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Run the WSGI entry point on a request given by its environ extras."""
    environ = {
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        **environ,
    }
    started: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    result = application(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return started["status"], started["headers"], content


def call(path: str, method: str = "GET", body: bytes = b"", content_type: str = ""):
    return serve(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
    )


def test_a_device_poll_is_served_without_session_or_csrf_cookies():
    make_device("dev-1")
    status, headers, content = call("/DEFAULT/controller/v1/dev-1")
    assert status == 200
    assert json.loads(content) == {"config": {"polling": {"sleep": "00:01:00"}}}
    assert "Set-Cookie" not in headers


def test_device_feedback_needs_no_csrf_token():
    status, _, _ = call(
        "/DEFAULT/controller/v1/dev-1/configData",
        method="PUT",
        body=b'{"data": {"hw_boardname": "board"}}',
        content_type="application/json",
    )
    assert status == 404  # unknown device: the view ran, CSRF did not refuse it


def test_unknown_device_paths_are_404_from_the_ddi_urlconf():
    status, _, _ = call("/DEFAULT/controller/v1/dev-1/nothing-here")
    assert status == 404


def test_operator_pages_keep_the_full_middleware():
    status, headers, _ = call("/admin/login/")
    assert status == 200
    assert "csrftoken" in headers.get("Set-Cookie", "")
    assert headers["X-Frame-Options"] == "DENY"


class ChunkedInput(io.BytesIO):
    """gunicorn's wsgi.input for a chunked body: read() returns the decoded bytes, no length."""


def call_chunked(path: str, body: bytes, *, method: str = "PUT"):
    return call_chunked_stream(path, ChunkedInput(body), method=method)


def call_chunked_stream(path: str, stream: io.BytesIO, *, method: str = "PUT"):
    status, _, content = serve(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "CONTENT_TYPE": "application/json",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": stream,
        }
    )
    return status, content


def test_a_chunked_config_data_without_content_length_is_read():
    device = make_device("dev-1")

    status, content = call_chunked(
        "/DEFAULT/controller/v1/dev-1/configData", b'{"data": {"hw_boardname": "b"}}'
    )

    assert (status, content) == (200, b"")
    device.refresh_from_db()
    assert device.attributes == {"hw_boardname": "b"}


def test_a_chunked_body_beyond_the_ddi_cap_is_refused_without_reading_it_all(settings):
    settings.GOOSEBIT_DDI_MAX_BODY_BYTES = 64
    make_device("dev-1")
    stream = ChunkedInput(b'{"data": {"a": "' + b"x" * 10_000 + b'"}}')

    status, content = call_chunked_stream("/DEFAULT/controller/v1/dev-1/configData", stream)

    assert status == 413
    assert json.loads(content)["errorCode"] == "hawkbit.server.error.quota.fileSizeExceeded"
    assert stream.tell() == 65  # one byte past the cap: the rest is never read into memory


def test_a_chunked_api_call_is_asked_for_its_length_not_read_as_empty():
    status, _, content = serve(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/devices/",
            "CONTENT_TYPE": "application/json",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": ChunkedInput(b'{"controller_id": "x"}'),
        }
    )

    assert status == 411
    assert json.loads(content) == {
        "detail": "a request body needs a Content-Length header; chunked transfer encoding is not "
        "accepted here"
    }


def test_a_chunked_admin_post_is_asked_for_its_length():
    status, _, content = serve(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/admin/login/",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": ChunkedInput(b"username=a&password=b"),
        }
    )

    assert status == 411
    assert content.startswith(b"a request body needs a Content-Length header")
