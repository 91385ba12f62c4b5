"""The host's API: HTTP, tokens, retries and quirks. Knows nothing of syncing.

Import the modules directly (no eager re-exports, so `syncd.remote.credentials` and
`syncd.remote.errors` load without httpx): `client` (`RemoteClient`), `credentials`, `errors`
(the exception tree), `models` (answers as plain data), `paths` (a folder by its path),
`downloads` (download-and-hash, the bounded download pool), `uploads`, `auth`, `ratelimit`.
"""
