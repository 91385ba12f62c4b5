"""The local side: one module per job, imported directly (no eager re-exports, so the scanner
stays importable with the standard library alone).

- `syncd.local.scanner`: `walk`, `scan_dir`, `stat_entry`, `root_identity`, `is_empty`
- `syncd.local.ignore`: `IgnoreRules`
- `syncd.local.hashing`: `md5_file`, `md5_at`, `md5_stream`, `stored_md5_file`, `stored_md5_at`
- `syncd.local.names`: `remote_name_issue`, `form_name_issue`, `upload_name_issue`
- `syncd.local.watcher`: `Watcher`, `Change`

Pure I/O edge: nothing here imports the engine, the journal or the remote client.
"""
