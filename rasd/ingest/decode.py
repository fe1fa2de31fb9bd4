"""Bytes to text with evidence: BOMs, strict UTF-8, then the Arabic legacy code pages by score."""

from __future__ import annotations

import re

#: Code pages tried, in order, when the bytes are not UTF-8. Both cover Arabic; they disagree
#: from 0xE0 up, where one decodes to Arabic letters and the other to accented Latin ones.
LEGACY_ENCODINGS = ("cp1256", "iso-8859-6")

_ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
# Accented Latin letters and C1 controls inside Arabic text are the sign of a wrong code page.
_WRONG_PAGE = re.compile(r"[\u0080-\u009f\u00c0-\u00ff]")
_SAMPLE = 200_000


class DecodeError(ValueError):
    """The bytes are not text in any encoding rasd reads; the message says why."""


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first block: an image, archive or program."""
    head = data[:8192]
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text is full of NULs
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls / len(head) > 0.05


def decode(data: bytes) -> tuple[str, str]:
    """Decode ``data`` and say which encoding the evidence supports.

    Returns ``(text, encoding)``. Raises DecodeError for binary data or bytes that no candidate
    decodes to plausible text.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DecodeError(f"UTF-16 byte-order mark but invalid UTF-16 at byte {exc.start}") from exc
    if looks_binary(data):
        raise DecodeError("binary file (NUL or control bytes), not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    best: tuple[float, str, str] | None = None
    sample = data[:_SAMPLE]
    for encoding in LEGACY_ENCODINGS:
        try:
            candidate = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        arabic = len(_ARABIC_LETTER.findall(candidate))
        wrong = len(_WRONG_PAGE.findall(candidate))
        score = arabic - 10 * wrong
        if arabic >= 20 and arabic > 5 * wrong and (best is None or score > best[0]):
            best = (score, encoding, candidate)
    if best is None:
        raise DecodeError(
            f"not valid UTF-8 (byte 0x{data[utf8_error.start]:02x} at offset {utf8_error.start}) "
            "and not Arabic in windows-1256 or ISO-8859-6"
        )
    encoding = best[1]
    return data.decode(encoding, errors="strict"), encoding
