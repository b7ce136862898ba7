"""PII replacement: e-mail and IP addresses in real-looking texts, and the near-misses left alone."""

from __future__ import annotations

import pyarrow as pa
import pytest

from crawlsieve.filters.config import PiiConfig
from crawlsieve.filters.pii import PiiScrubber, PiiStage


def scrub(text: str, **config) -> tuple[str, dict]:
    text, found = PiiScrubber(PiiConfig(enabled=True, **config)).scrub(text)
    return text, dict(found)


def test_emails_and_public_ips_are_replaced_with_datatroves_replacements_and_counted():
    text, found = scrub(
        "Questions about the survey? Write to maria.gonzalez+survey@uni-hamburg.de or call us.\n"
        "Our mirror answers at 151.101.1.69 and 2a04:4e42::645; the old one at 185.199.108.153 is down."
    )
    assert text == (
        "Questions about the survey? Write to email@example.com or call us.\n"
        "Our mirror answers at 22.214.171.124 and 2001:db8:85a3::8a2e:370:7334; "
        "the old one at 126.96.36.199 is down."
    )
    assert found == {"emails": 1, "ips": 3}


def test_replacements_are_taken_in_turn_within_each_document():
    scrubber = PiiScrubber(PiiConfig(enabled=True))
    text = "a@gmail.com, b@gmail.com, c@gmail.com"
    first, _ = scrubber.scrub(text)
    assert first == "email@example.com, firstname.lastname@example.org, email@example.com"
    assert scrubber.scrub(text)[0] == first  # a second document starts the turn again


@pytest.mark.parametrize(
    "text",
    [
        "Update to version 1.2.3.4 before Friday; v2.0.1.7 fixed the login bug.",
        "Windows build 10.0.19041.1 and release 4.4.0.21 are supported.",
        "The OID 1.3.6.1.4.1 and the number 11.22.33.444 are not addresses.",
        "Meeting on 12.03.2024 at 12:30:45, the price is 1.299,99 EUR (was $1,499.00).",
        "The city has 1.000.000.000 reasons; call 555.123.4567.",
        "Device MAC 00:1a:2b:3c:4d:5e; use std::vector and Foo::Bar in C++.",
        "Retina images: logo@2x.png and icon@3x.jpg; follow @crawlsieve on the web.",
        "Psalm 23:1:2 and the ratio 3:2:1 are not IPv6.",
    ],
)
def test_version_numbers_dates_prices_and_other_near_misses_are_left_alone(text):
    assert scrub(text, keep_private=False, keep_documentation=False) == (text, {})


def test_private_and_reserved_ips_follow_keep_private():
    text = "Router at 192.168.0.1, loopback 127.0.0.1 and ::1, link-local fe80::1, group 239.1.2.3."
    assert scrub(text) == (text, {"kept_private": 5})
    replaced, found = scrub(text, keep_private=False)
    assert found == {"ips": 5}
    assert "192.168.0.1" not in replaced and "fe80::1" not in replaced


def test_documentation_examples_follow_keep_documentation():
    text = "See user@example.com, admin@mail.example.org, dev@host.test, 192.0.2.10 and 2001:db8::42."
    assert scrub(text) == (text, {"kept_documentation": 5})
    replaced, found = scrub(text, keep_documentation=False)
    assert found == {"emails": 3, "ips": 2}
    assert "example.com" in replaced  # the replacement itself, not the address
    assert "192.0.2.10" not in replaced and "2001:db8::42" not in replaced


def test_tag_mode_counts_and_keeps_the_text():
    text = "Contact jan.kowalski@wp.pl from 8.8.4.4"
    assert scrub(text, mode="tag") == (text, {"emails": 1, "ips": 1})


def test_ips_or_emails_can_be_left_out():
    text = "jan.kowalski@wp.pl from 8.8.4.4"
    assert scrub(text, ips=False) == ("email@example.com from 8.8.4.4", {"emails": 1})
    assert scrub(text, emails=False) == ("jan.kowalski@wp.pl from 22.214.171.124", {"ips": 1})


def test_configured_replacements_are_used():
    text, _ = scrub("mail x@gmail.com at 1.1.1.1", email_replacements=["[EMAIL]"], ipv4_replacements=["[IP]"])
    assert text == "mail [EMAIL] at [IP]"


def test_the_stage_writes_float_signals_replaces_the_text_and_counts_the_file():
    stage = PiiStage(PiiConfig(enabled=True))
    batch = pa.table(
        {
            "id": ["a", "b", "c"],
            "text": ["Mail ops@fastly.com or 151.101.1.69.", "Nothing to see here.", "Ask 10.0.0.1"],
        }
    )
    out = stage(batch)
    assert out.column("id").to_pylist() == ["a", "b", "c"]
    assert out.column("text").to_pylist() == [
        "Mail email@example.com or 22.214.171.124.",
        "Nothing to see here.",
        "Ask 10.0.0.1",
    ]
    assert out.schema.field("sig_pii_emails").type == pa.float64()
    assert out.column("sig_pii_emails").to_pylist() == [1.0, 0.0, 0.0]
    assert out.column("sig_pii_ips").to_pylist() == [1.0, 0.0, 0.0]
    assert dict(stage.counters) == {
        "pii:emails": 1,
        "pii:ips": 1,
        "pii:documents": 1,
        "pii:kept_private": 1,
    }
