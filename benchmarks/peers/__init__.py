"""Harnesses that run the peer tools (rclone, Syncthing, lsyncd) on the same data."""
