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


#: Codecs Python knows that are not the character set of a web page: a page declaring one is
#: decoded as if its charset were unknown (``punycode`` and ``idna`` raise on most text).
NOT_CHARSETS = frozenset({"punycode", "idna", "undefined", "unicode_escape", "raw_unicode_escape"})


def _codec(name: str | None) -> str | None:
    """The Python codec of a declared charset, if it is one that can decode a page."""
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip())
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in NOT_CHARSETS:
        return None
    return info.name


def _decoded(data: bytes, codec: str | None, errors: str = "strict") -> str | None:
    """The one place a codec meets the bytes: any failure means "not this codec", never a raise."""
    if codec is None:
        return None
    try:
        return data.decode(codec, errors)
    except Exception:  # UnicodeError and whatever else a codec raises on hostile bytes
        return None


def decode_html(data: bytes, http_charset: str | None) -> tuple[str, str]:
    """Return the text and how its charset was found (`http:`, `meta:`, `detected:` or `fallback`)."""
    codec = _codec(http_charset)
    text = _decoded(data, codec)
    if text is not None:
        return text, f"http:{codec}"
    match = META_CHARSET.search(data[:META_SCAN_BYTES])
    codec = _codec(match.group(1).decode("ascii", "ignore")) if match else None
    text = _decoded(data, codec)
    if text is not None:
        return text, f"meta:{codec}"
    text = _decoded(data, "utf-8")
    if text is not None:
        return text, "detected:utf_8"
    best = from_bytes(data[:200_000]).best()
    codec = _codec(best.encoding) if best is not None else None
    text = _decoded(data, codec, errors="replace")
    if text is not None:
        return text, f"detected:{codec}"
    return data.decode("utf-8", errors="replace"), "fallback"
