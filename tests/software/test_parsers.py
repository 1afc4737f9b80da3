"""The parsers against real packages: SWUpdate images from build_swu, RAUC bundles from rauc."""

from __future__ import annotations

import os

import pytest

from software.parsers import PackageError, ParsedPackage, detect_format, parse_package
from tests.packages import build_raucb, build_squashfs, build_swu, cpio_archive, sw_description


@pytest.mark.parametrize("syntax", ["libconfig", "json"])
@pytest.mark.parametrize("crc", [False, True])
@pytest.mark.parametrize("signed", [False, True])
def test_swu_images_in_every_syntax_and_cpio_flavour_are_parsed(tmp_path, signer, syntax, crc, signed):
    path = build_swu(
        tmp_path / "update.swu",
        version="1.2.3",
        board="myboard",
        revisions=["1.0", "1.1"],
        files={"rootfs.img": b"rootfs" * 100},
        syntax=syntax,
        crc=crc,
        signer=signer if signed else None,
    )

    parsed = parse_package(path)

    assert parsed == ParsedPackage(
        image_format="swu",
        version="1.2.3",
        compatibility=(("myboard", "1.0"), ("myboard", "1.1")),
        signed=signed,
        metadata={
            "description": "test image 1.2.3",
            "sw_description_syntax": syntax,
            "cpio_format": "crc" if crc else "newc",
            "entries": [{"name": "rootfs.img", "size": 600}],
            "entry_count": 1,
        },
    )


def test_top_level_hardware_compatibility_gives_the_default_model(tmp_path):
    path = build_swu(tmp_path / "u.swu", board=None, revisions=["rev-a", "rev-b"])

    assert parse_package(path).compatibility == (("default", "rev-a"), ("default", "rev-b"))


@pytest.mark.parametrize("syntax", ["libconfig", "json"])
def test_boards_and_collections_each_give_their_board_as_model(tmp_path, syntax):
    description = {
        "software": {
            "version": "3.0",
            "hardware-compatibility": ["0"],
            "alpha": {"hardware-compatibility": ["1"], "images": [{"filename": "a"}]},
            "beta": {
                "stable": {"hardware-compatibility": ["2", "3"], "copy1": {"images": []}},
                "testing": {"hardware-compatibility": ["2"]},
            },
        }
    }
    path = build_swu(tmp_path / "u.swu", description=description, syntax=syntax)

    assert parse_package(path).compatibility == (
        ("default", "0"),
        ("alpha", "1"),
        ("beta", "2"),
        ("beta", "3"),
    )


def test_a_package_without_hardware_compatibility_fits_default_default(tmp_path):
    path = build_swu(tmp_path / "u.swu", description={"software": {"version": "1.0", "images": []}})

    assert parse_package(path).compatibility == (("default", "default"),)


def test_numeric_revisions_are_read_as_text(tmp_path):
    path = build_swu(
        tmp_path / "u.swu",
        description={"software": {"version": "1.0", "b": {"hardware-compatibility": [1, 2]}}},
    )

    assert parse_package(path).compatibility == (("b", "1"), ("b", "2"))


def test_a_plain_rauc_bundle_is_parsed_from_the_file(raucb_plain):
    parsed = parse_package(raucb_plain)

    assert parsed == ParsedPackage(
        image_format="rauc",
        version="2.1.0",
        compatibility=(("myboard-rev2", "default"),),
        signed=True,
        metadata={
            "compatible": "myboard-rev2",
            "bundle_format": "plain",
            "description": "",
            "build": "",
            "squashfs_compression": "zlib",
            "images": [{"slot": "slot0", "filename": "rootfs.img"}],
        },
    )


def test_a_verity_rauc_bundle_records_its_format(raucb_verity):
    parsed = parse_package(raucb_verity)

    assert (parsed.version, parsed.compatibility, parsed.signed) == ("2.2.0", (("myboard", "default"),), True)
    assert parsed.metadata["bundle_format"] == "verity"


@pytest.mark.parametrize("compression", ["xz", "zstd"])
def test_rauc_bundles_with_other_squashfs_compressions_are_read(tmp_path, signer, compression):
    path = build_raucb(
        tmp_path / "b.raucb", compatible="b", signer=signer, mksquashfs_args=f"-comp {compression}"
    )

    parsed = parse_package(path)

    assert parsed.metadata["squashfs_compression"] == compression
    assert parsed.version == "1.0.0"


@pytest.mark.parametrize("version", ["1.2.3.4", "2024.1", "1.0.0-rc.1+build.5", "7"])
def test_rauc_versions_may_be_any_recognised_version(tmp_path, signer, version):
    path = build_raucb(tmp_path / "b.raucb", version=version, compatible="b", signer=signer)

    assert parse_package(path).version == version


@pytest.mark.parametrize(
    ("pattern", "compatible", "expected"),
    [
        (r"(?P<hw_boardname>.+)-(?P<hw_revision>rev[^-]+)$", "myboard-rev1.0a", ("myboard", "rev1.0a")),
        (r"(?P<hw_boardname>.+)-(?P<hw_revision>rev[^-]+)$", "myboard", ("myboard", "default")),
        (r"(?P<hw_boardname>[a-z]+)(-(?P<hw_revision>\d+))?$", "board", ("board", "default")),
        ("", "myboard-rev1.0a", ("myboard-rev1.0a", "default")),
    ],
)
def test_the_compatible_pattern_splits_model_and_revision(
    tmp_path, signer, settings, pattern, compatible, expected
):
    settings.GOOSEBIT_RAUC_COMPATIBLE_PATTERN = pattern
    path = build_raucb(tmp_path / "b.raucb", compatible=compatible, signer=signer)

    assert parse_package(path).compatibility == (expected,)


def test_detection_uses_the_content_not_the_file_name(tmp_path, raucb_plain):
    misnamed_swu = build_swu(tmp_path / "really-a-swu.raucb")
    misnamed_bundle = tmp_path / "really-a-bundle.swu"
    misnamed_bundle.write_bytes(raucb_plain.read_bytes())

    assert detect_format(misnamed_swu) == "swu"
    assert detect_format(misnamed_bundle) == "rauc"


# --- the corpus of broken files: each a PackageError that names the problem ------------------


def _expect_error(path, message: str) -> None:
    with pytest.raises(PackageError) as excinfo:
        parse_package(path)
    assert message in str(excinfo.value)


def test_a_zero_byte_file_is_refused(tmp_path):
    path = tmp_path / "empty.swu"
    path.write_bytes(b"")

    _expect_error(path, "the file is empty")


@pytest.mark.parametrize(
    "content", [b"PK\x03\x04zipfile", b"\x7fELF\x02\x01", b"hello world\n", b"\x00" * 64]
)
def test_files_with_a_foreign_magic_are_refused(tmp_path, content):
    path = tmp_path / "x.swu"
    path.write_bytes(content)

    _expect_error(path, "not a .swu or .raucb file")


def test_an_old_format_cpio_archive_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "odc.swu"
    path.write_bytes(b"070707" + b"0" * 200)

    _expect_error(path, "newc (070701) or crc (070702)")


@pytest.mark.parametrize("keep", [50, 120, 300, 700])
def test_truncated_swu_images_are_refused(tmp_path, keep):
    full = build_swu(tmp_path / "full.swu", files={"rootfs.img": os.urandom(2000)}).read_bytes()
    path = tmp_path / "truncated.swu"
    path.write_bytes(full[:keep])

    _expect_error(path, "truncated")


def test_an_swu_whose_first_entry_is_not_sw_description_is_refused(tmp_path):
    path = tmp_path / "u.swu"
    path.write_bytes(cpio_archive([("rootfs.img", b"x"), ("sw-description", b"software = {};")]))

    _expect_error(path, "the first entry of a .swu must be sw-description, found 'rootfs.img'")


@pytest.mark.parametrize("syntax", ["libconfig", "json"])
def test_an_swu_without_a_version_is_refused(tmp_path, syntax):
    path = build_swu(
        tmp_path / "u.swu", description={"software": {"b": {"hardware-compatibility": ["1"]}}}, syntax=syntax
    )

    _expect_error(path, "sw-description has no software.version")


def test_an_swu_with_an_unrecognisable_version_is_refused(tmp_path):
    path = build_swu(tmp_path / "u.swu", version="next friday")

    _expect_error(path, "software.version 'next friday' is not a version")


@pytest.mark.parametrize(
    ("description", "message"),
    [
        (b"software = { version = ", "sw-description is not valid libconfig"),
        (b'{"software": {"version": ', "sw-description is not valid JSON"),
        (b"\xff\xfe\x00garbage", "sw-description is not UTF-8 text"),
        (b'{"other": {}}', "sw-description has no software section"),
        (b"software = { version = 1.5; };", "software.version must be a non-empty string"),
        (
            b'software = { version = "1.0"; b = { hardware-compatibility = "x"; stable = '
            b"{ hardware-compatibility = []; }; }; };",
            "software.b.stable.hardware-compatibility must be a list of revisions",
        ),
    ],
)
def test_garbage_sw_descriptions_are_refused(tmp_path, description, message):
    path = tmp_path / "u.swu"
    path.write_bytes(cpio_archive([("sw-description", description)]))

    _expect_error(path, message)


def test_a_crc_archive_whose_sw_description_checksum_is_wrong_is_refused(tmp_path):
    archive = bytearray(
        cpio_archive([("sw-description", sw_description({"software": {"version": "1"}}))], crc=True)
    )
    archive[6 + 12 * 8 : 6 + 13 * 8] = b"%08X" % 12345
    path = tmp_path / "u.swu"
    path.write_bytes(bytes(archive))

    _expect_error(path, "does not match its cpio checksum")


def test_a_squashfs_without_a_manifest_is_refused(tmp_path):
    path = build_squashfs(tmp_path / "fake.raucb", {"rootfs.img": b"x" * 100})

    _expect_error(path, "the bundle has no manifest.raucm (not a RAUC bundle)")


def test_a_truncated_bundle_is_refused(tmp_path, raucb_plain):
    path = tmp_path / "cut.raucb"
    path.write_bytes(raucb_plain.read_bytes()[:3000])

    _expect_error(path, "squashfs")


def test_a_bundle_with_a_corrupt_superblock_is_refused(tmp_path, raucb_plain):
    data = bytearray(raucb_plain.read_bytes())
    data[4:96] = os.urandom(92)
    path = tmp_path / "corrupt.raucb"
    path.write_bytes(bytes(data))

    _expect_error(path, "squashfs")


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"[update]\ncompatible=b\n", "manifest.raucm has no [update] version"),
        (b"[update]\nversion=1.0\n", "manifest.raucm has no [update] compatible"),
        (b"[update]\ncompatible=b\nversion=soon\n", "version 'soon' is not a version"),
        (b"[update\ncompatible=b", "manifest.raucm cannot be parsed"),
        (b"\xff\xfe", "manifest.raucm cannot be parsed"),
        (b"[update]\ncompatible=b\nversion=1\n[bundle]\nformat=crypt\n", "format=crypt"),
        (b"[update]\ncompatible=b\nversion=1\n[bundle]\nformat=zip\n", "unknown [bundle] format 'zip'"),
    ],
)
def test_bad_manifests_are_refused(tmp_path, manifest, message):
    path = build_squashfs(tmp_path / "b.raucb", {"manifest.raucm": manifest})

    _expect_error(path, message)


def test_a_real_bundle_without_a_version_is_refused(tmp_path, signer):
    path = build_raucb(tmp_path / "b.raucb", version=None, compatible="b", signer=signer)

    _expect_error(path, "manifest.raucm has no [update] version")


def test_an_encrypted_crypt_bundle_is_refused_clearly(tmp_path, signer):
    path = build_raucb(tmp_path / "c.raucb", compatible="b", format="crypt", signer=signer)

    _expect_error(path, "encrypted RAUC bundle (format=crypt)")


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ({"software": {"version": "1.0.0-" + "a" * 300}}, "the version '1.0.0-aaaa"),
        (
            {"software": {"version": "1.0", "b" * 300: {"hardware-compatibility": ["1"]}}},
            "the hardware model 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'... is longer than 255 characters",
        ),
        (
            {"software": {"version": "1.0", "b": {"hardware-compatibility": ["r\n1"]}}},
            "the hardware revision 'r\\n1' contains control characters",
        ),
    ],
)
def test_names_the_database_cannot_hold_are_refused(tmp_path, description, message):
    path = build_swu(tmp_path / "u.swu", description=description, syntax="json")

    _expect_error(path, message)


def test_nul_characters_are_dropped_from_metadata(tmp_path):
    path = build_swu(
        tmp_path / "u.swu",
        description={"software": {"version": "1.0", "description": "a\u0000b"}},
        syntax="json",
    )

    assert parse_package(path).metadata["description"] == "ab"
