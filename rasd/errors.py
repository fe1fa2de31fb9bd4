"""One error hierarchy; errors become messages only at the CLI and web edges."""

from __future__ import annotations


class RasdError(Exception):
    """Base of every error rasd raises on purpose."""


class InputError(RasdError):
    """An input (file, URL, record) that could not be read. The batch goes on without it."""

    def __init__(self, path: str, reason: str) -> None:
        reason = " ".join(str(reason).split())  # one line, whatever a library put in its message
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InputError) and (self.path, self.reason) == (other.path, other.reason)

    def __hash__(self) -> int:
        return hash((self.path, self.reason))


class StoreError(RasdError):
    """The store could not be opened, migrated or written."""


class SettingsError(RasdError):
    """A settings file or value is wrong; the message says what to change."""
