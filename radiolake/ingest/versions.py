"""Deleting versions of a growing catalogue without breaking the versions that share their files.

A version grown from another lists some partition files that live in the older version's folder (`growth`).
So a version is never deleted by removing its folder blindly: the files a kept version lists stay, the rest
(and first the commit marker, so the version is no longer read as whole) go.
"""

from __future__ import annotations

import pyarrow.fs as pafs

from radiolake.ingest import catalog as cat


def committed_versions(fs: pafs.FileSystem, base: str) -> list[str]:
    return [v for v, ok in cat.list_versions(fs, base).items() if ok]


def holds_shared(folder: str, keep_files: set[str]) -> bool:
    return any(f.startswith(folder + "/") for f in keep_files)


def referenced_files(fs: pafs.FileSystem, base: str, versions: list[str]) -> set[str]:
    """Every partition file the committed `versions` list (their own and those they share)."""
    files: set[str] = set()
    for version in versions:
        files.update(cat.partition_files(cat.open_catalog(fs, base, version)))
    return files


def delete_version(fs: pafs.FileSystem, base: str, version: str, keep_files: set[str]) -> bool:
    """Delete a version's folder, except the partition files in `keep_files` (shared by versions still kept):
    its commit marker goes first, so it is never read as whole again. True if the folder is gone entirely."""
    folder = cat.version_path(base, version)
    if not holds_shared(folder, keep_files):
        fs.delete_dir(folder)
        return True
    marker = f"{folder}/{cat.COMMITTED}"
    if cat.exists(fs, marker):
        fs.delete_file(marker)
    for info in fs.get_file_info(pafs.FileSelector(folder, recursive=True)):
        if info.type == pafs.FileType.File and info.path not in keep_files:
            fs.delete_file(info.path)
    return False


