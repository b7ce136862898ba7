"""E-mail and IP addresses in kept documents: replaced, or only counted (datatrove's PIIFormatter).

The e-mail and IPv4 patterns and the replacements are datatrove's (``PIIFormatter``); what its
rules leave to chance is made explicit here:

* an IPv4 address stands alone: not inside a longer dotted number (``1.2.3.4.5``, ``11.22.33.444``,
  where datatrove's pattern replaces ``1.2.3.4`` and ``11.22.33.44``) and not right after a version
  word (``version 1.2.3.4``, ``v1.2.3.4``, ``build 10.0.19041.1``): those are version numbers;
* IPv6 addresses too (datatrove has none): runs of hex groups and colons that ``ipaddress`` accepts,
  so times (``12:30:45``), MAC addresses and C++ scopes are not addresses;
* an e-mail's domain ends in a public suffix (tldextract's bundled list, never the network), so
  image names like ``logo@2x.png`` are not addresses;
* private, loopback, link-local, multicast and reserved IPs name no one and stay (``keep_private``),
  and so do documentation examples (``keep_documentation``: example.com, 192.0.2.0/24, 2001:db8::/32);
* replacements are taken in turn within a document (datatrove: across a worker's documents), so a
  document's text does not depend on which documents its worker saw before.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from functools import cache

import pyarrow as pa
from datatrove.pipeline.formatters.pii import PIIFormatter

from crawlsieve.core.stages import Stage
from crawlsieve.filters.config import PiiConfig
from crawlsieve.filters.url_blocklist import suffix_extractor

_DATATROVE = PIIFormatter()
#: datatrove's pattern, after a lookahead for the ``@`` within 64 characters (an address's local part
#: is at most 64, RFC 5321): without it, a long run like ``a-a-a-...`` costs time quadratic in its
#: length (10,000 characters: 2 s), as every word boundary starts a scan to the run's end.
EMAIL = re.compile(
    _DATATROVE.emails_replacer.regex.pattern.replace(
        r"\b", r"\b(?=[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@)", 1
    )
)
IPV4 = re.compile(rf"(?<![\w.]){_DATATROVE.ip_replacer.regex.pattern}(?!\w|\.\d)")
_HEX = "[0-9A-Fa-f]{0,4}"
#: Candidates only (two or more colons, an optional IPv4 tail); ``ipaddress`` decides.
IPV6 = re.compile(
    rf"(?<![\w:.]){_HEX}(?::{_HEX}){{2,7}}(?:(?<=:)\d{{1,3}}(?:\.\d{{1,3}}){{3}})?(?![\w:]|\.\w)"
)
#: Cheap tests a text must pass before its pattern runs: the patterns start with lookarounds,
#: which keep the regex engine from skipping ahead, and most texts have no address at all.
EMAIL_HINT = re.compile("@")
IPV4_HINT = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
#: A dotted quad after one of these words is a version number, not an address.
_VERSION_BEFORE = re.compile(
    r"(?i)\b(?:version|ver|v|release|build|rev|revision|firmware|kernel|patch|update)\.?\s*$"
)
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20")
)
#: RFC 2606: domains reserved for examples and tests.
DOCUMENTATION_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
DOCUMENTATION_TLDS = frozenset({"example", "test", "invalid", "localhost"})

# What an address found in a text is.
PII, PRIVATE, DOCUMENTATION, NOT_AN_ADDRESS = "pii", "private", "documentation", "not_an_address"

EMAILS_SIGNAL, IPS_SIGNAL = "sig_pii_emails", "sig_pii_ips"


def ip_kind(text: str) -> str:
    """``PII`` for a public address; ``PRIVATE``, ``DOCUMENTATION`` or ``NOT_AN_ADDRESS`` otherwise."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:  # 1.000.000.000 (leading zeros), 12:30:45, 00:1a:2b:3c:4d:5e
        return NOT_AN_ADDRESS
    if any(address in network for network in DOCUMENTATION_NETWORKS):
        return DOCUMENTATION
    if not address.is_global or address.is_multicast or address.is_reserved:
        return PRIVATE
    return PII


@cache
def _public_suffix(domain: str) -> str:
    return suffix_extractor()(domain).suffix


def email_kind(text: str) -> str:
    domain = text.rpartition("@")[2].lower().rstrip(".")
    if domain.startswith("["):  # user@[192.0.2.1]: an address literal
        return PII
    if domain.rpartition(".")[2] in DOCUMENTATION_TLDS or any(
        domain == d or domain.endswith(f".{d}") for d in DOCUMENTATION_DOMAINS
    ):
        return DOCUMENTATION
    return PII if _public_suffix(domain) else NOT_AN_ADDRESS


class PiiScrubber:
    """Finds the addresses of one text and replaces (or only counts) those the config treats as PII."""

    def __init__(self, config: PiiConfig):
        self.config = config
        self.keep = {PRIVATE: config.keep_private, DOCUMENTATION: config.keep_documentation}
        patterns = []
        # E-mails first (an e-mail's domain may be an IP literal), IPv6 before IPv4 (::ffff:1.2.3.4).
        if config.emails:
            patterns.append(("emails", EMAIL_HINT, EMAIL, email_kind, config.email_replacements))
        if config.ips:
            patterns.append(("ips", IPV6_HINT, IPV6, ip_kind, config.ipv6_replacements))
            patterns.append(("ips", IPV4_HINT, IPV4, ip_kind, config.ipv4_replacements))
        self.patterns = patterns

    def scrub(self, text: str) -> tuple[str, Counter]:
        """The text with its PII replaced (in replace mode), and counts of what was found:
        ``emails`` and ``ips`` (PII), ``kept_private`` and ``kept_documentation``."""
        found: Counter = Counter()
        for counted_as, hint, pattern, kind_of, replacements in self.patterns:
            if not hint.search(text):
                continue
            replaced = self._substitute(text, pattern, kind_of, replacements, counted_as, found)
            if self.config.mode == "replace":
                text = replaced
        return text, found

    def _substitute(self, text, pattern, kind_of, replacements, counted_as: str, found: Counter) -> str:
        used = 0

        def replacement(match: re.Match) -> str:
            nonlocal used
            address = match.group(0)
            if pattern is IPV4 and _VERSION_BEFORE.search(text, max(0, match.start() - 16), match.start()):
                return address
            kind = kind_of(address)
            if kind == NOT_AN_ADDRESS:
                return address
            if kind != PII and self.keep[kind]:
                found[f"kept_{kind}"] += 1
                return address
            found[counted_as] += 1
            used += 1
            return replacements[(used - 1) % len(replacements)]

        return pattern.sub(replacement, text)


class PiiStage(Stage):
    """Adds ``sig_pii_emails`` and ``sig_pii_ips`` (addresses found that the rules treat as PII);
    in replace mode writes the text with them replaced. Removes nothing.

    Counts the run's ``pii:emails``, ``pii:ips``, ``pii:documents`` (with any), ``pii:kept_private``
    and ``pii:kept_documentation`` in ``counters`` (stats.json ``counters``).
    """

    name = "pii"

    def __init__(self, config: PiiConfig):
        self.config = config
        self.scrubber = PiiScrubber(config)
        self.counters: Counter = Counter()

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        emails, ips = [], []
        for row, text in enumerate(texts):
            scrubbed, found = self.scrubber.scrub(text or "")
            if text is not None:
                texts[row] = scrubbed
            emails.append(float(found["emails"]))
            ips.append(float(found["ips"]))
            self.counters.update({f"pii:{name}": n for name, n in found.items()})
            self.counters["pii:documents"] += bool(found["emails"] or found["ips"])
        if self.config.mode == "replace":
            index = batch.schema.get_field_index("text")
            batch = batch.set_column(index, "text", pa.array(texts, type=batch.schema.field("text").type))
        batch = batch.append_column(EMAILS_SIGNAL, pa.array(emails, type=pa.float64()))
        return batch.append_column(IPS_SIGNAL, pa.array(ips, type=pa.float64()))
