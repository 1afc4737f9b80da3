"""software_create_from_url against a real HTTP server on 127.0.0.1, and URL masking."""

from __future__ import annotations

import base64
import hashlib
import socket
from pathlib import Path

import pytest

from software.exceptions import PackageTooLarge, RemoteFetchError, SoftwareError
from software.models import Software
from software.remote import mask_url
from software.services import software_create_from_url
from tests.packages import build_swu
from tests.software.http_server import PackageServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server():
    with PackageServer() as running:
        yield running


@pytest.fixture(autouse=True)
def upload_tmp(settings, tmp_path) -> Path:
    directory = tmp_path / "upload-tmp"
    directory.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(directory)
    return directory


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """A proxy configured in the environment must not see test traffic to 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def artifact_files(settings) -> list[Path]:
    root = Path(settings.ARTIFACTS_DIR)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_remote_software_is_parsed_and_served_from_its_url(server, tmp_path, settings, upload_tmp):
    content = build_swu(tmp_path / "u.swu", version="4.0", board="rb", revisions=["2"]).read_bytes()
    server.routes["/pkgs/update-4.0.swu"] = (200, {}, content)
    url = f"{server.url}/pkgs/update-4.0.swu"

    software = software_create_from_url(url=url)

    software.refresh_from_db()
    assert (
        software.version,
        software.package.filename,
        software.package.url,
        software.package.file.name,
    ) == (
        "4.0",
        "update-4.0.swu",
        url,
        "",
    )
    assert (software.package.size, software.package.sha1, software.package.sha256) == (
        len(content),
        hashlib.sha1(content).hexdigest(),
        hashlib.sha256(content).hexdigest(),
    )
    assert [(h.model, h.revision) for h in software.compatibility.all()] == [("rb", "2")]
    assert software.package.metadata["source_url"] == url
    assert artifact_files(settings) == []
    assert list(upload_tmp.iterdir()) == []


def test_remote_software_can_be_cached_into_the_storage(server, tmp_path, settings):
    content = build_swu(tmp_path / "u.swu").read_bytes()
    server.routes["/u.swu"] = (200, {}, content)

    software = software_create_from_url(url=f"{server.url}/u.swu", cache=True)

    assert software.package.url == ""
    assert software.package.file.name == f"{software.package.sha256}/u.swu"
    assert [path.read_bytes() for path in artifact_files(settings)] == [content]


def test_the_cache_setting_is_the_default(server, tmp_path, settings):
    settings.GOOSEBIT_REMOTE_SOFTWARE_CACHE = True
    server.routes["/u.swu"] = (200, {}, build_swu(tmp_path / "u.swu").read_bytes())

    software = software_create_from_url(url=f"{server.url}/u.swu")

    assert (software.package.url, software.package.is_remote) == ("", False)


def test_credentials_in_the_url_become_basic_auth_and_are_never_shown(server, tmp_path):
    server.routes["/secure/u.swu"] = (200, {}, build_swu(tmp_path / "u.swu").read_bytes())
    host = server.url.removeprefix("http://")
    url = f"http://deploy:s3cr%40t@{host}/secure/u.swu"

    software = software_create_from_url(url=url)

    path, headers = server.requests[-1]
    assert path == "/secure/u.swu"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"deploy:s3cr@t").decode()
    assert software.package.url == url  # devices need the credentials
    assert software.package.masked_url == f"http://deploy:***@{host}/secure/u.swu"
    assert software.package.metadata["source_url"] == software.package.masked_url
    assert "s3cr" not in str(software)


def test_redirects_are_followed_without_forwarding_credentials(server, tmp_path):
    server.routes["/old"] = (302, {"Location": "/new/u.swu"}, b"")
    server.routes["/new/u.swu"] = (200, {}, build_swu(tmp_path / "u.swu", version="5").read_bytes())
    host = server.url.removeprefix("http://")

    software = software_create_from_url(url=f"http://user:pw@{host}/old")

    assert software.version == "5"
    assert [path for path, _ in server.requests] == ["/old", "/new/u.swu"]
    assert "Authorization" in server.requests[0][1]
    assert "Authorization" not in server.requests[1][1]


def test_the_file_name_comes_from_content_disposition_when_given(server, tmp_path):
    content = build_swu(tmp_path / "u.swu").read_bytes()
    server.routes["/download?id=7"] = (
        200,
        {"Content-Disposition": 'attachment; filename="fw-7.swu"'},
        content,
    )

    software = software_create_from_url(url=f"{server.url}/download?id=7")

    assert software.package.filename == "fw-7.swu"


def test_too_many_redirects_are_refused(server, upload_tmp):
    server.routes["/loop"] = (302, {"Location": "/loop2"}, b"")
    server.routes["/loop2"] = (302, {"Location": "/loop"}, b"")

    with pytest.raises(RemoteFetchError) as excinfo:
        software_create_from_url(url=f"{server.url}/loop")

    assert str(excinfo.value) == f"{server.url}/loop redirects more than 5 times"
    assert Software.objects.count() == 0


def test_a_redirect_to_a_non_http_scheme_is_refused(server):
    server.routes["/ftp"] = (302, {"Location": "ftp://127.0.0.1/u.swu"}, b"")

    with pytest.raises(RemoteFetchError, match="redirects to a non-HTTP URL"):
        software_create_from_url(url=f"{server.url}/ftp")


def test_an_http_error_is_reported_with_the_masked_url(server):
    host = server.url.removeprefix("http://")

    with pytest.raises(RemoteFetchError) as excinfo:
        software_create_from_url(url=f"http://me:topsecret@{host}/missing.swu")

    assert str(excinfo.value) == f"http://me:***@{host}/missing.swu answered HTTP 404 Not Found"


def test_an_unreachable_host_is_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: connection refused.

    with pytest.raises(RemoteFetchError, match=f"could not download http://127.0.0.1:{port}/u.swu"):
        software_create_from_url(url=f"http://127.0.0.1:{port}/u.swu")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/u.swu", "software URLs must start with http:// or https://"),
        ("file:///etc/passwd", "software URLs must start with http:// or https://"),
        ("/just/a/path.swu", "software URLs must start with http:// or https://"),
        ("http:///nohost.swu", "the URL has no host name: http:///nohost.swu"),
        ("http://host:port/u.swu", "not a valid URL: http://host:port/u.swu"),
        ("https://host/" + "a" * 2040, "the URL is longer than 2048 characters"),
    ],
)
def test_bad_urls_are_refused_before_any_request(url, message):
    with pytest.raises(SoftwareError) as excinfo:
        software_create_from_url(url=url)

    assert str(excinfo.value) == message


def test_a_remote_package_announced_over_the_limit_is_refused(server, settings, upload_tmp):
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 1000
    server.routes["/big.swu"] = (200, {}, b"x" * 5000)

    with pytest.raises(PackageTooLarge, match="the package is 5000 bytes"):
        software_create_from_url(url=f"{server.url}/big.swu")

    assert list(upload_tmp.iterdir()) == []


def test_a_remote_package_over_the_limit_without_a_length_is_cut_off(server, settings, upload_tmp):
    settings.GOOSEBIT_MAX_UPLOAD_SIZE = 1000
    # HTTP/1.0 without Content-Length: the body ends when the connection closes.
    server.routes["/big.swu"] = (200, {"Content-Length": "", "Connection": "close"}, b"x" * 5000)

    with pytest.raises(PackageTooLarge, match="larger than the limit of 1000 bytes"):
        software_create_from_url(url=f"{server.url}/big.swu")

    assert list(upload_tmp.iterdir()) == []


def test_a_download_shorter_than_announced_is_refused(server, tmp_path, upload_tmp):
    content = build_swu(tmp_path / "u.swu").read_bytes()
    server.routes["/short.swu"] = (200, {"Content-Length": str(len(content) + 100)}, content)

    with pytest.raises(RemoteFetchError, match="transfer broke off|ended after"):
        software_create_from_url(url=f"{server.url}/short.swu")

    assert Software.objects.count() == 0
    assert list(upload_tmp.iterdir()) == []


def test_a_remote_file_that_is_no_package_is_refused(server, upload_tmp, settings):
    server.routes["/index.html"] = (200, {"Content-Type": "text/html"}, b"<html>login page</html>")

    with pytest.raises(SoftwareError, match="not a .swu or .raucb file"):
        software_create_from_url(url=f"{server.url}/index.html", cache=True)

    assert Software.objects.count() == 0
    assert artifact_files(settings) == []
    assert list(upload_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@host/a.swu", "https://user:***@host/a.swu"),
        ("https://ghp_token123@host/a.swu", "https://***@host/a.swu"),
        ("https://host:8443/a.swu", "https://host:8443/a.swu"),
        (
            "https://b.s3.amazonaws.com/a.swu?X-Amz-Credential=AK%2F1&X-Amz-Signature=abc&v=2",
            "https://b.s3.amazonaws.com/a.swu?X-Amz-Credential=***&X-Amz-Signature=***&v=2",
        ),
        ("https://host/a.swu?token=abc&sig=def&name=x", "https://host/a.swu?token=***&sig=***&name=x"),
        ("", ""),
    ],
)
def test_mask_url_hides_passwords_and_secret_query_values(url, shown):
    assert mask_url(url) == shown
