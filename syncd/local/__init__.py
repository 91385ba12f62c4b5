"""The local side: scanner, ignore rules, hashing, name checks, watcher.

Pure I/O edge: nothing here imports the engine, the journal or the remote client.
"""

from syncd.local.hashing import HashingReader, Md5Accumulator, md5_file
from syncd.local.ignore import IGNORE_FILE_NAME, IgnoreRules
from syncd.local.names import form_name_issue, remote_name_issue, upload_name_issue
from syncd.local.scanner import (
    LocalEntry,
    RootIdentity,
    ScanIssue,
    ScannedDir,
    SkippedEntry,
    entry_sort_key,
    is_empty,
    root_identity,
    scan_dir,
    stat_entry,
    walk,
)

__all__ = [
    "IGNORE_FILE_NAME",
    "HashingReader",
    "IgnoreRules",
    "LocalEntry",
    "Md5Accumulator",
    "RootIdentity",
    "ScanIssue",
    "ScannedDir",
    "SkippedEntry",
    "entry_sort_key",
    "form_name_issue",
    "is_empty",
    "md5_file",
    "remote_name_issue",
    "root_identity",
    "scan_dir",
    "stat_entry",
    "upload_name_issue",
    "walk",
]
