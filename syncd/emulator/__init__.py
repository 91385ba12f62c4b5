"""A local emulator of a YetiShare-style "File Upload Script" API v2 host.

Start it with `syncd emulator` (or `python -m syncd.emulator`); see `server.main`. Tests drive it
through `syncd.emulator.testing`. The demo account below is what it accepts unless started with
other keys.

Its web stack (starlette, uvicorn, python-multipart) is the optional extra ``emulator``;
`syncd.cli.extras.require_emulator_packages` says in one line how to install it.
"""

DEMO_KEY1 = "0123456789abcdef" * 4
DEMO_KEY2 = "fedcba9876543210" * 4
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNT_ID = 1

__all__ = ["DEMO_ACCOUNT_ID", "DEMO_KEY1", "DEMO_KEY2", "DEMO_PASSWORD", "DEMO_USERNAME"]
