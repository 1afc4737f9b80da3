"""Add packages from files or URLs: ``manage.py import_software PATH|URL [...]``.

Each source goes through the same service as an upload. A progress bar is drawn on stderr;
``--json`` prints one result object per source on stdout. The exit status is non-zero when any
source failed, after trying all of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rest_framework.utils.encoders import JSONEncoder

from devices.models import Hardware
from software import services
from software.api.serializers import SoftwareSerializer
from software.exceptions import SoftwareError
from software.models import Software

BAR_WIDTH = 30


class ProgressBar:
    """``name [#######.......]  42%  12.3/29.0 MB`` redrawn in place, at most once per percent."""

    def __init__(self, label: str, stream) -> None:
        self.label = label
        self.stream = stream
        self.last: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        mb = done / 1_000_000
        if total:
            percent = min(100, done * 100 // total)
            if percent == self.last:
                return
            self.last = percent
            filled = BAR_WIDTH * percent // 100
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            line = f"{self.label} [{bar}] {percent:3d}%  {mb:.1f}/{total / 1_000_000:.1f} MB"
        else:
            step = int(mb)
            if step == self.last:
                return
            self.last = step
            line = f"{self.label} {mb:.1f} MB"
        self.stream.write("\r" + line)
        self.stream.flush()

    def finish(self) -> None:
        if self.last is not None:
            self.stream.write("\n")
            self.stream.flush()


def _format(software: Software) -> str:
    package = software.package
    return package.image_format if package is not None else "raw"


class Command(BaseCommand):
    help = "Add .swu / .raucb packages from files or http(s) URLs."

    def add_arguments(self, parser):
        parser.add_argument("sources", nargs="+", metavar="PATH|URL")
        parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
        cache = parser.add_mutually_exclusive_group()
        cache.add_argument("--cache", action="store_true", help="copy URL packages into the storage")
        cache.add_argument(
            "--no-cache", dest="cache", action="store_false", help="devices fetch URL packages from the URL"
        )
        # Neither flag: GOOSEBIT_REMOTE_SOFTWARE_CACHE decides.
        parser.set_defaults(cache=None)
        raw = parser.add_argument_group("files that are no .swu/.raucb (raw artifacts)")
        raw.add_argument("--raw-version", dest="raw_version", help="accept such a file as this version")
        raw.add_argument("--name", help="the release name (default: the file name)")
        raw.add_argument("--module-type", default=None, help="its module type key (default os)")
        raw.add_argument(
            "--hardware",
            action="append",
            default=[],
            metavar="MODEL:REVISION",
            help="hardware it fits (repeatable); created if unknown",
        )

    def handle(self, *args, **options):
        results = []
        failures = 0
        for source in options["sources"]:
            progress = ProgressBar(source, self.stderr) if options["verbosity"] > 0 else None
            try:
                software = self._import(source, options=options, progress=progress)
            except SoftwareError as exc:
                failures += 1
                results.append({"source": source, "error": str(exc)})
                self.stderr.write(f"{source}: {exc}")
                continue
            finally:
                if progress is not None:
                    progress.finish()
            results.append({"source": source, "software": SoftwareSerializer(software).data})
            if not options["json"]:
                compatibility = ", ".join(str(item) for item in software.compatibility.order_by("pk"))
                self.stdout.write(
                    f"Imported software {software.pk}: {software.name} "
                    f"(version {software.version}, {_format(software)}) for {compatibility}"
                )
        if options["json"]:
            self.stdout.write(json.dumps(results, cls=JSONEncoder, indent=2))
        if failures:
            raise CommandError(f"{failures} of {len(options['sources'])} package(s) could not be imported")

    def _import(self, source: str, *, options: dict, progress) -> Software:
        if "://" in source:
            return services.software_create_from_url(url=source, cache=options["cache"], on_progress=progress)
        path = Path(source)
        if not path.is_file():
            raise SoftwareError(f"no such file: {source}")
        with path.open("rb") as handle:
            # Tell the service the size so the bar can show a percentage.
            wrapped = _SizedFile(handle, os.fstat(handle.fileno()).st_size)
            # It reads like a binary file, which is all the service uses of it.
            return services.software_create_from_file(
                file=wrapped,  # type: ignore[arg-type]
                filename=path.name,
                on_progress=progress,
                version=options.get("raw_version"),
                name=options.get("name"),
                module_type=options.get("module_type"),
                compatibility=_hardware(options.get("hardware") or []),
            )


def _hardware(specs: list[str]) -> list[Hardware]:
    hardware = []
    for spec in specs:
        model, _, revision = spec.partition(":")
        if not model.strip():
            raise SoftwareError(f"--hardware takes MODEL:REVISION, got {spec!r}")
        hardware.append(
            Hardware.objects.get_or_create(model=model.strip(), revision=revision.strip() or "default")[0]
        )
    return hardware


class _SizedFile:
    def __init__(self, handle, size: int) -> None:
        self._handle = handle
        self.size = size
        self.name = handle.name

    def read(self, amount: int = -1) -> bytes:
        return self._handle.read(amount)
