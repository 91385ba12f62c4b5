"""The host's stringly answers become typed models (shapes from the published API pages)."""

from __future__ import annotations

from datetime import UTC, datetime

from syncd.remote.models import (
    AccountInfo,
    AccountPackage,
    CopyResult,
    DownloadLink,
    FolderListing,
    RemoteFile,
    RemoteFolder,
    UploadResult,
    parse_datetime,
    parse_folder_id,
    parse_int,
)


def test_scalars() -> None:
    assert parse_int("125") == 125 and parse_int(None) is None and parse_int("") is None
    assert parse_int("abc") is None and parse_int(7) == 7
    assert parse_folder_id("0") is None and parse_folder_id(None) is None
    assert parse_folder_id("") is None and parse_folder_id("12") == 12
    assert parse_datetime("2024-11-08 21:57:50") == datetime(2024, 11, 8, 21, 57, 50, tzinfo=UTC)
    assert parse_datetime("0000-00-00 00:00:00") is None
    assert parse_datetime(None) is None and parse_datetime("garbage") is None


def test_dates_read_fast_as_strptime_reads_them() -> None:
    """The host's 'Y-m-d H:i:s' takes a faster path: the same value, or None, as strptime."""

    def strptime(value: str) -> datetime | None:
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            return None

    values = [
        "2024-02-29 23:59:59",  # leap day
        "2023-02-29 12:00:00",  # not a leap year
        "2024-01-01 24:00:00",
        "2024-01-01 23:59:60",
        "2024-13-01 00:00:00",
        "2024-01-00 00:00:00",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2024-1-5 3:04:05",  # unpadded: strptime's path
        "2024-01-05T03:04:05",  # ISO 8601, not the host's shape: refused as before
        "２０２４-01-05 03:04:05",  # non-ASCII digits
    ]
    for value in values:
        assert parse_datetime(value) == strptime(value), value


def test_account_models() -> None:
    info = AccountInfo.from_api(
        {
            "id": "158642",
            "username": "admin",
            "level_id": "20",
            "email": "[email protected]",
            "status": "active",
            "paidExpiryDate": "0000-00-00 00:00:00",
        }
    )
    assert (info.id, info.username, info.level_id, info.status) == (158642, "admin", 20, "active")
    assert info.raw["paidExpiryDate"] == "0000-00-00 00:00:00"
    package = AccountPackage.from_api(
        {
            "id": "20",
            "label": "Premium Account",
            "max_upload_size": "1073741824",
            "can_upload": "1",
            "max_storage_bytes": "0",
            "concurrent_uploads": "100",
        }
    )
    assert package.max_upload_size == 1073741824 and package.concurrent_uploads == 100
    assert package.can_upload is True and package.max_storage_bytes == 0
    assert AccountPackage.from_api({"can_upload": "0"}).can_upload is False


def test_listing_rows() -> None:
    listing = FolderListing.from_api(
        {
            "folders": [
                {
                    "id": "123",
                    "parentId": None,
                    "folderName": "My Folder 1",
                    "totalSize": "868689",
                    "isPublic": "1",
                    "date_added": "2017-02-15 20:02:05",
                    "date_updated": None,
                    "url_folder": "http://h/folder/123/My_Folder_1",
                    "total_downloads": 5864,
                    "child_folder_count": 1,
                    "file_count": 0,
                }
            ],
            "files": [
                {
                    "id": "1161",
                    "filename": "button_back.gif",
                    "shortUrl": "2U1",
                    "fileType": "image/gif",
                    "fileSize": "1116",
                    "status": "active",
                    "folderId": None,
                    "url_file": "http://h/2U1",
                }
            ],
        }
    )
    [folder] = listing.folders
    assert (folder.id, folder.parent_id, folder.name, folder.is_public) == (
        123,
        None,
        "My Folder 1",
        1,
    )
    assert folder.total_size == 868689 and folder.child_folder_count == 1 and folder.file_count == 0
    assert folder.date_added == datetime(2017, 2, 15, 20, 2, 5, tzinfo=UTC)
    assert folder.date_updated is None
    [row] = listing.files
    assert (row.id, row.name, row.size, row.folder_id, row.status) == (
        1161,
        "button_back.gif",
        1116,
        None,
        "active",
    )
    assert FolderListing.from_api({}).files == []


def test_file_info_uses_file_status() -> None:
    row = RemoteFile.from_api(
        {
            "id": "9",
            "filename": "a",
            "fileSize": "3",
            "folderId": "4",
            "file_status": "trash",
            "uploadedDate": "2024-01-02 03:04:05",
        }
    )
    assert row.status == "trash" and row.folder_id == 4 and row.uploaded_at is not None


def test_upload_download_copy_folder() -> None:
    up = UploadResult.from_api(
        {"name": "x.jpg", "size": "149084", "hash": "2F41" + "0" * 28, "file_id": "1253"}
    )
    assert (up.file_id, up.size, up.md5) == (1253, 149084, "2f41" + "0" * 28)
    link = DownloadLink.from_api(
        {"file_id": "1253", "filename": "x.jpg", "download_url": "http://h/2Vv?download_token=ab"}
    )
    assert link.file_id == 1253 and "download_token" not in repr(link)
    copy = CopyResult.from_api(
        {
            "original_file": {"data": {"id": "1162", "filename": "b.gif"}},
            "new_file": {"data": {"id": "1254", "filename": "b.gif"}},
        }
    )
    assert (copy.original.id, copy.new.id) == (1162, 1254)
    folder = RemoteFolder.from_api({"id": "118", "parentId": "117", "folderName": "N"})
    assert folder.parent_id == 117 and folder.is_public == 0


def test_with_name_and_size_keeps_every_other_field() -> None:
    from datetime import UTC, datetime

    f = RemoteFile(7, "stored", 1000, 3, "active", "s", "t", "u", datetime(2026, 1, 2, tzinfo=UTC))
    assert f.with_name_and_size("plain", 952) == f._replace(name="plain", size=952)
