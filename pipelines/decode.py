"""Bytes of an HTML payload to text: the HTTP charset, then the page's <meta>, then detection.

Never raises: a wrong or unknown declared charset falls through to the next source, and the
last resort decodes UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
META_SCAN_BYTES = 4096


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None


def _strict(data: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(data: bytes, http_charset: str | None) -> tuple[str, str]:
    """Return the text and how its charset was found (`http:`, `meta:`, `detected:` or `fallback`)."""
    codec = _codec(http_charset)
    text = _strict(data, codec)
    if text is not None:
        return text, f"http:{codec}"
    match = META_CHARSET.search(data[:META_SCAN_BYTES])
    codec = _codec(match.group(1).decode("ascii", "ignore")) if match else None
    text = _strict(data, codec)
    if text is not None:
        return text, f"meta:{codec}"
    text = _strict(data, "utf-8")
    if text is not None:
        return text, "detected:utf_8"
    best = from_bytes(data[:200_000]).best()
    codec = _codec(best.encoding) if best is not None else None
    if codec is not None:
        return data.decode(codec, errors="replace"), f"detected:{codec}"
    return data.decode("utf-8", errors="replace"), "fallback"
