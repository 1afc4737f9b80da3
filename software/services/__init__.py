"""Writes to the software repository. Every entry point (API, admin, command) calls these.

``intake``: package and raw-file uploads (stream, hash, parse, store, record);
``catalog``: modules, artifacts, metadata and releases composed of modules.
"""

from software.services.catalog import (
    artifact_delete,
    module_add_artifact,
    module_check_unlocked,
    module_create,
    module_delete,
    module_delete_metadata,
    module_set_metadata,
    release_create,
    release_update,
)
from software.services.intake import (
    ProgressCallback,
    artifact_filename,
    package_filename,
    package_module_type,
    software_create_from_file,
    software_create_from_url,
    software_delete,
    upload_temp_cleanup,
    upload_temp_dir,
)

__all__ = [
    "ProgressCallback",
    "artifact_delete",
    "artifact_filename",
    "module_add_artifact",
    "module_check_unlocked",
    "module_create",
    "module_delete",
    "module_delete_metadata",
    "module_set_metadata",
    "package_filename",
    "package_module_type",
    "release_create",
    "release_update",
    "software_create_from_file",
    "software_create_from_url",
    "software_delete",
    "upload_temp_cleanup",
    "upload_temp_dir",
]
