"""Each heuristic filter and each of its reasons, through the heuristic stage as the pipeline runs it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from crawlsieve.filters.config import FiltersConfig
from crawlsieve.filters.stages import EMPTY_TEXT, HeuristicFilterStage

GOOD_EN = (
    "The committee met on Tuesday to discuss the new budget for the coming year. "
    "Members of the council said that the plan would have to be changed before it could be approved. "
    "After a long debate, the chair agreed to publish a revised version of the proposal with more detail.\n\n"
    "Residents who attended the meeting asked questions about the cost of repairs to the old bridge, "
    "which has been closed to traffic since the floods of last spring. The engineer explained that the work "
    "would take at least six months and that the town would apply for support from the regional fund.\n\n"
    "A final vote on the budget is expected at the end of the month, and the council will hold another "
    "public session before then so that people can comment on the changes."
)
GOOD_DE = (
    "Der Gemeinderat hat am Dienstag über den neuen Haushalt für das kommende Jahr beraten. "
    "Die Mitglieder des Rates sagten, dass der Plan noch "
    "geändert werden müsse, bevor er genehmigt werden könne. "
    "Nach einer langen Debatte stimmte die Vorsitzende zu, eine überarbeitete Fassung mit mehr Einzelheiten "
    "zu veröffentlichen.\n\n"
    "Bürgerinnen und Bürger fragten nach den Kosten für die "
    "Reparatur der alten Brücke, die seit dem Hochwasser "
    "im vergangenen Frühjahr für den Verkehr gesperrt ist. Der "
    "Ingenieur erklärte, dass die Arbeiten mindestens "
    "sechs Monate dauern würden und die Gemeinde Mittel aus dem regionalen Fonds beantragen werde.\n\n"
    "Eine endgültige Abstimmung über den Haushalt wird für das "
    "Ende des Monats erwartet, und der Rat wird zuvor "
    "eine weitere öffentliche Sitzung abhalten, damit die Menschen sich zu den Änderungen äußern können."
)
GOOD_FR = (
    "Le conseil municipal s'est réuni mardi pour discuter du nouveau budget pour l'année prochaine. "
    "Les membres du conseil ont déclaré que le plan devait être modifié avant de pouvoir être approuvé. "
    "Après un long débat, la présidente a accepté de publier une version révisée de la proposition.\n\n"
    "Les habitants présents ont posé des questions sur le coût des réparations du vieux pont, qui est fermé "
    "à la circulation depuis les inondations du printemps dernier. L'ingénieur a expliqué que les travaux "
    "dureraient au moins six mois et que la commune demanderait une aide du fonds régional.\n\n"
    "Un vote final sur le budget est attendu à la fin du mois, "
    "et le conseil tiendra une autre séance publique "
    "afin que les citoyens puissent donner leur avis sur les changements proposés."
)
GOOD_ZH = (
    "市政委员会周二开会讨论了明年的新预算。委员们表示，这项计划在获得批准之前还需要修改。"
    "经过长时间的辩论，主席同意公布一份内容更详细的修订版本。\n\n"
    "参加会议的居民询问了修复旧桥的费用。这座桥自去年春天发生洪水以来一直禁止车辆通行。"
    "工程师解释说，这项工程至少需要六个月的时间，市政府将向地区基金申请资金支持。\n\n"
    "预算的最终表决预计将在月底进行。在此之前，委员会还将举行一次公开会议，让市民对这些修改发表意见。"
    "许多人认为，这座桥对当地的商店和学校非常重要，所以希望工程能够尽快开始。"
)


def run(texts: list[str], config: FiltersConfig | None = None, language: str = "en") -> pa.Table:
    table = pa.table(
        {
            "id": [str(i) for i in range(len(texts))],
            "url": [f"https://example.com/{i}" for i in range(len(texts))],
            "text": texts,
            "language": [language] * len(texts),
            "language_score": [0.99] * len(texts),
        }
    )
    return HeuristicFilterStage(config or FiltersConfig())(table)


def removed(text: str, config: FiltersConfig | None = None, language: str = "en") -> str | None:
    return run([text], config, language).column("_removed")[0].as_py()


@pytest.mark.parametrize(
    ("text", "language"), [(GOOD_EN, "en"), (GOOD_DE, "de"), (GOOD_FR, "fr"), (GOOD_ZH, "zh")]
)
def test_good_articles_in_four_languages_are_kept(text, language):
    assert removed(text, language=language) is None


def test_german_article_fails_only_the_english_stop_word_rule_when_per_language_rules_are_off():
    assert removed(GOOD_DE, FiltersConfig(per_language_rules=False), "de") == "gopher_quality:stop_words"


def test_chinese_is_segmented_into_words_not_counted_as_one_word_per_line():
    out = run([GOOD_ZH], language="zh")
    assert out.column("sig_gopher_quality_word_count")[0].as_py() > 100
    assert out.column("sig_gopher_quality_mean_word_length")[0].as_py() is None  # rule off for unspaced text


def test_ten_thousand_slashes_are_removed_as_a_character_run():
    assert removed(GOOD_EN + "\n" + "/" * 10_000) == "repetition:char_run"


def test_a_line_of_one_repeated_token_is_removed():
    spam = "\n".join(["buy cheap pills buy buy buy buy now buy buy"] * 2 + [GOOD_EN])
    config = FiltersConfig()
    config.gopher_repetition.mode = "tag"
    config.fineweb_quality.mode = "tag"
    assert removed(spam, config) == "repetition:line_token_repeat"


def test_templated_text_is_removed_by_its_compression_ratio():
    template = "\n".join(
        f"Cheap hotel deals in city number {i} with free breakfast and parking." for i in range(60)
    )
    config = FiltersConfig()
    for name in ("fineweb_quality", "gopher_repetition"):
        getattr(config, name).mode = "tag"
    out = run([template], config)
    assert out.column("_removed")[0].as_py() == "compression:ratio"
    assert out.column("sig_compression_ratio")[0].as_py() > 6


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Too short to be a document.", "gopher_quality:word_count"),
        ("the and of with " + "incomprehensibilities " * 60, "gopher_quality:mean_word_length"),
        (GOOD_EN + " #tag" * 80, "gopher_quality:symbol_ratio"),
        (
            "\n".join(
                f"- item {i} of the list of things that the shop has in stock today." for i in range(40)
            ),
            "gopher_quality:bullet_lines",
        ),
        (
            "\n".join(
                f"Read the whole story about number {i} and more of the news here..." for i in range(40)
            ),
            "gopher_quality:ellipsis_lines",
        ),
        (GOOD_EN + " 123456 2345678 345678" * 40, "gopher_quality:alpha_ratio"),
        ("Lorem dolor sit amet. " * 60, "gopher_quality:stop_words"),
    ],
)
def test_gopher_quality_reasons(text, reason):
    config = FiltersConfig()
    for name in ("repetition", "compression", "fineweb_quality", "gopher_repetition"):
        getattr(config, name).mode = "tag"
    assert removed(text, config) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ((GOOD_EN + "\n\n") * 3, "gopher_repetition:dup_para_frac"),
        (
            GOOD_EN + "\n" + "\n".join(["Subscribe to our newsletter today."] * 10),
            "gopher_repetition:dup_line_frac",
        ),
        (GOOD_EN + " " + "the town the town " * 60, "gopher_repetition:top_2_gram"),
    ],
)
def test_gopher_repetition_reasons(text, reason):
    config = FiltersConfig()
    for name in ("repetition", "compression", "fineweb_quality"):
        getattr(config, name).mode = "tag"
    assert removed(text, config) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "\n".join(["Home", "News", "Contact us", "About", GOOD_EN.replace(".", "")]),
            "fineweb_quality:line_punct_ratio",
        ),
        ("\n".join([GOOD_EN] + [f"Item {i}." for i in range(40)]), "fineweb_quality:short_line_ratio"),
        (
            GOOD_EN + "\nRead more about the budget.\n" + "Read more about the budget.\n",
            "fineweb_quality:char_dup_ratio",
        ),
    ],
)
def test_fineweb_quality_reasons(text, reason):
    config = FiltersConfig()
    for name in ("repetition", "compression"):
        getattr(config, name).mode = "tag"
    assert removed(text, config) == reason


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "c4:lorem_ipsum"),
        ("The function is defined as { return the value; } in this code.", "c4:curly_bracket"),
    ],
)
def test_c4_document_rules(extra, reason):
    assert removed(GOOD_EN + "\n" + extra) == reason


def test_c4_names_javascript_when_only_javascript_lines_would_have_made_the_page():
    page = "\n".join(
        ["Please enable JavaScript in your browser to view this page properly."] * 3
        + ["You need JavaScript enabled. The site will not work without JavaScript. Turn on JavaScript now."]
    )
    config = FiltersConfig()
    for name in ("repetition", "compression", "fineweb_quality", "gopher_repetition", "gopher_quality"):
        getattr(config, name).mode = "tag"
    assert removed(page, config) == "c4:javascript"


def test_c4_in_drop_mode_removes_cookie_and_javascript_lines_from_kept_text():
    text = GOOD_EN + "\nThis website uses cookies to give you the best experience of the site.\n"
    out = run([text])
    assert out.column("_removed")[0].as_py() is None
    kept = out.column("text")[0].as_py()
    assert "uses cookies" not in kept
    assert "The committee met on Tuesday" in kept


def test_tag_mode_keeps_the_document_and_records_the_signal():
    config = FiltersConfig()
    config.repetition.mode = "tag"
    config.compression.mode = "tag"
    out = run([GOOD_EN + "\n" + "/" * 10_000], config)
    assert out.column("_removed")[0].as_py() is None
    assert out.column("sig_repetition_char_run")[0].as_py() == 10_000
    assert out.column("sig_compression_ratio")[0].as_py() > 6


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "!!!! ???? ---- ....",
        "a" * 5_000_000,
        "Слово 漢字 كلمة word ✓ " * 300,
        "\x00\ufffd" * 100,
    ],
)
def test_bad_input_gets_a_decision_never_an_exception(text):
    out = run([text, GOOD_EN])
    decisions = out.column("_removed").to_pylist()
    assert decisions[0] is not None
    assert decisions[1] is None
    assert out.column("_failed").to_pylist() == [None, None]


def test_whitespace_only_text_has_its_own_reason():
    assert removed(" \n ") == EMPTY_TEXT


def test_every_batch_has_the_same_signal_columns_as_float64():
    first = run([GOOD_EN])
    second = run(["short"])
    signals = [name for name in first.column_names if name.startswith("sig_")]
    assert signals == [name for name in second.column_names if name.startswith("sig_")]
    assert len(signals) > 20
    assert all(first.schema.field(name).type == pa.float64() for name in signals)


TEXT_FILTERS = ("repetition", "compression", "fineweb_quality", "gopher_repetition", "gopher_quality", "c4")


def test_with_every_filter_in_tag_mode_junk_is_kept_and_every_filter_records_its_signals():
    config = FiltersConfig()
    for name in TEXT_FILTERS:
        getattr(config, name).mode = "tag"
    junk = "\n".join(["Home", "News", "Login", "Lorem ipsum dolor sit amet, { here }."] * 30 + ["/" * 99])
    assert removed(junk) is not None  # what drop mode would do
    out = run([junk], config)
    assert out.column("_removed").to_pylist() == [None]
    assert out.column("text")[0].as_py() == junk  # tag mode never rewrites the text
    for prefix in TEXT_FILTERS:
        columns = [c for c in out.column_names if c.startswith(f"sig_{prefix}_")]
        assert columns
        assert any(out.column(c)[0].as_py() is not None for c in columns), prefix
