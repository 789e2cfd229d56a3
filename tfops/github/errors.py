"""What can go wrong talking to GitHub, as errors that name the endpoint and the fix."""

from __future__ import annotations

from tfops.errors import TfopsError


class GithubError(TfopsError):
    """The GitHub API refused or failed a request. `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, *, status: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class GithubForbidden(GithubError):
    """403: the token may not do this (e.g. a read-only token on a pull request from a fork)."""


class FileListTruncated(GithubError):
    """GitHub lists at most 3,000 files of a pull request, and this one changes more.

    `listed` holds what GitHub did list, `changed_files` how many the pull request changes.
    Whoever needs every file must ask git (`git diff --name-only base...head`) instead:
    planning from a partial list would silently plan less than the change.
    """

    def __init__(self, message: str, *, listed: list[str], changed_files: int, hint: str):
        super().__init__(message, status=200, hint=hint)
        self.listed = listed
        self.changed_files = changed_files
