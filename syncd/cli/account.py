"""`syncd login`: check the credentials and show the account."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from syncd.cli.app import App, SyncdCommand, echo_table, human_size, pass_app
from syncd.errors import ExitCode

if TYPE_CHECKING:
    from syncd.remote.client import RemoteClient

LOGIN_MAX_RETRY_TIME = 15.0


@click.command(cls=SyncdCommand)
@pass_app
def login(app: App) -> int:
    """Check the credentials: authorize and show the account and its package limits."""
    config = app.load_config()
    # Interactive: say within seconds that the host is unreachable, not after minutes.
    retry = min(config.remote.max_retry_time, LOGIN_MAX_RETRY_TIME)
    with app.open_client(config, max_retry_time=retry) as client:
        show_account(client, config.remote.api_url)
    return ExitCode.OK


def show_account(client: RemoteClient, api_url: str) -> None:
    """Authorize, then print the account and its package limits (never a key or token)."""
    client.authorize()
    info = client.account_info()
    package = client.account_package()
    level = f", level {info.level_id}" if info.level_id is not None else ""
    status = f", {info.status}" if info.status else ""
    echo_table(
        [
            ("host", api_url),
            ("account", f"{info.username} (id {info.id}{level}{status})"),
            ("package", package.label or "(unnamed)"),
            (
                "max upload size",
                human_size(package.max_upload_size) if package.max_upload_size else "no limit",
            ),
            (
                "concurrent uploads",
                str(package.concurrent_uploads) if package.concurrent_uploads else "not limited",
            ),
            ("can upload", "yes" if package.can_upload else "no"),
            (
                "storage",
                human_size(package.max_storage_bytes) if package.max_storage_bytes else "unlimited",
            ),
        ]
    )
