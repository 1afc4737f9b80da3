"""manage.py import_software: files and URLs, progress on stderr, --json, exit status."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from software.models import Software
from tests.packages import build_swu
from tests.software.http_server import PackageServer

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_software", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_file_is_imported_with_a_progress_bar_on_stderr(tmp_path):
    path = build_swu(tmp_path / "fw-1.swu", version="1.5", board="board", revisions=["1"])

    out, err = run(str(path))

    software = Software.objects.get()
    assert out == f"Imported software {software.pk}: fw-1.swu (version 1.5, swu) for board 1\n"
    assert err.startswith(f"\r{path} [")
    assert err.rstrip("\n").endswith("] 100%  0.0/0.0 MB")


def test_json_output_lists_every_result(tmp_path):
    first = build_swu(tmp_path / "a.swu", version="1")
    second = build_swu(tmp_path / "b.swu", version="2")

    out, _ = run(str(first), str(second), "--json", "--verbosity", "0")

    results = json.loads(out)
    assert [(item["source"], item["software"]["version"]) for item in results] == [
        (str(first), "1"),
        (str(second), "2"),
    ]
    assert (
        results[0]["software"]["download_url"] == f"/api/v1/software/{results[0]['software']['id']}/download/"
    )


def test_urls_are_imported_and_cached_on_request(tmp_path):
    with PackageServer() as server:
        server.routes["/u.swu"] = (200, {}, build_swu(tmp_path / "u.swu").read_bytes())

        run(f"{server.url}/u.swu", "--cache", "--verbosity", "0")

    software = Software.objects.get()
    assert software.package.file.name is not None
    assert (software.package.url, software.package.file.name.endswith("/u.swu")) == ("", True)


def test_bad_input_fails_with_a_clear_message_after_trying_everything(tmp_path):
    good = build_swu(tmp_path / "good.swu")
    garbage = tmp_path / "garbage.swu"
    garbage.write_bytes(b"nope")
    missing = tmp_path / "missing.swu"
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command(
            "import_software", str(missing), str(garbage), str(good), "--json", stdout=out, stderr=err
        )

    assert str(excinfo.value) == "2 of 3 package(s) could not be imported"
    assert f"{missing}: no such file: {missing}\n" in err.getvalue()
    assert f"{garbage}: not a .swu or .raucb file (unknown file format)\n" in err.getvalue()
    results = json.loads(out.getvalue())
    assert [item.get("error") for item in results] == [
        f"no such file: {missing}",
        "not a .swu or .raucb file (unknown file format)",
        None,
    ]
    assert Software.objects.count() == 1


def test_the_command_exits_non_zero(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "import_software", str(tmp_path / "nothing.swu")],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "goosebit_project.settings_test",
            "GOOSEBIT_DATA_DIR": str(tmp_path / "data"),
            "GOOSEBIT_DB_URI": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert result.returncode == 1
    assert result.stderr.endswith("CommandError: 1 of 1 package(s) could not be imported\n")


def test_a_raw_file_is_imported_with_the_version_and_hardware_given(tmp_path):
    path = tmp_path / "modem.bin"
    path.write_bytes(b"\x00firmware")
    out = StringIO()

    call_command(
        "import_software", str(path), "--raw-version", "4.2", "--module-type", "application",
        "--hardware", "modem:b", stdout=out, stderr=StringIO(),
    )  # fmt: skip

    software = Software.objects.get()
    assert out.getvalue() == f"Imported software {software.pk}: modem.bin (version 4.2, raw) for modem b\n"
    assert software.modules.get().type.key == "application"
