"""Per-language settings: FineWeb-2's table, its resolution order, turning a filter off for a
language, and which settings judged each language in stats.json."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from pydantic import ValidationError

from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.config import FiltersConfig
from crawlsieve.filters.language_table import fineweb2_name, section_values, stop_words, tabled_languages
from crawlsieve.filters.refilter import check_refilter, redecide, what_if_counts, what_if_section
from crawlsieve.filters.stages import HeuristicFilterStage, filter_stages, language_settings_counts
from crawlsieve.quality.stats import language_settings

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference" / "fineweb2"
MULTILINGUAL = REPO.parent / "shared" / "corpus" / "multilingual"

GERMAN = (
    "Die Stadt hat am Montag den neuen Haushalt beschlossen, der mehr Geld für Schulen vorsieht.\n"
    "Der Bürgermeister sagte, dass die Investitionen in die Bildung und die Infrastruktur wichtig sind.\n"
    "Die Opposition kritisierte den Plan und forderte eine Prüfung der Kosten durch den Rechnungshof.\n"
    "Nach der Sitzung erklärte die Verwaltung, dass die ersten Projekte im Herbst beginnen sollen.\n"
    "Die Bürger können sich im Rathaus und auf der Internetseite der Stadt über die Pläne informieren.\n"
    "Im nächsten Jahr soll außerdem ein neues Schwimmbad für die Vereine und die Schulen gebaut werden."
)


def _docs(texts: list[str], languages: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table({"id": [str(i) for i in range(n)], "text": texts, "language": languages})


@pytest.fixture(scope="module")
def zh_articles() -> list[str]:
    path = MULTILINGUAL / "extraction" / "ground_truth.jsonl"
    if not path.is_file():
        pytest.skip(f"no multilingual corpus at {MULTILINGUAL}")
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [c["text"] for c in cases if c["script"] == "zh" and c["genre"] == "article"]


def test_the_shipped_table_is_what_the_build_script_makes_of_fineweb2s_files():
    if not (REFERENCE / "language_filter_configs.json").is_file():
        pytest.skip(f"no FineWeb-2 reference at {REFERENCE}")
    spec = importlib.util.spec_from_file_location(
        "build_fineweb2", REPO / "filters" / "data" / "build_fineweb2.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    shipped = json.loads((REPO / "filters" / "data" / "fineweb2.json").read_text(encoding="utf-8"))
    assert build.build(REFERENCE) == shipped
    reference = json.loads((REFERENCE / "language_filter_configs.json").read_text(encoding="utf-8"))
    assert (
        reference["cmn_Hani"]["line_punct_thr"]
        == shipped["languages"]["zh"]["fineweb_quality"]["line_punct_thr"]
    )


def test_lid176_codes_map_to_fineweb2_names_and_english_keeps_the_defaults():
    assert (fineweb2_name("zh"), fineweb2_name("de"), fineweb2_name("ja")) == (
        "cmn_Hani",
        "deu_Latn",
        "jpn_Jpan",
    )
    assert fineweb2_name("en") is None and section_values("fineweb_quality", "en") == {}
    assert len(tabled_languages()) == 174
    assert "的" in stop_words("zh") and stop_words("en") is None


def test_a_tabled_language_gets_fineweb2s_thresholds_and_pipeline_choices_english_the_sections_own():
    config = FiltersConfig()
    zh = config.fineweb_quality.thresholds_for("zh", None)
    assert (zh.line_punct_thr, zh.new_line_ratio) == (0.106, 0.178)
    assert (zh.short_line_thr, zh.char_duplicates_ratio) == (None, 0.1)  # short-line rule off
    repetition = config.gopher_repetition.thresholds_for("zh", None)
    assert repetition.top_n_grams == {2: 0.256, 3: 0.201, 4: 0.171}
    assert repetition.dup_line_frac == 0.287 and repetition.dup_para_frac is None
    quality = config.gopher_quality.thresholds_for("de", None)
    assert (quality.min_alpha_words_ratio, quality.max_avg_word_length, quality.min_stop_words) == (
        0.774,
        15,
        2,
    )
    assert config.c4.thresholds_for("de", None).mode == "off"  # no C4 outside English
    assert config.fineweb_quality.thresholds_for("en", None) is config.fineweb_quality
    assert config.c4.thresholds_for("en", None).mode == "drop"


def test_the_users_values_for_a_language_win_over_the_table_entry_by_entry():
    config = FiltersConfig.model_validate(
        {
            "fineweb_quality": {"line_punct_thr": 0.3, "languages": {"zh": {"line_punct_thr": 0.05}}},
            "gopher_repetition": {"languages": {"zh": {"top_n_grams": {"2": 0.5}}}},
            "c4": {"languages": {"de": {"mode": "drop"}}},
        }
    )
    assert config.fineweb_quality.thresholds_for("zh", None).line_punct_thr == 0.05
    assert config.fineweb_quality.thresholds_for("de", None).line_punct_thr == 0.0  # the table's
    assert config.fineweb_quality.thresholds_for("en", None).line_punct_thr == 0.3  # the section's
    assert config.gopher_repetition.thresholds_for("zh", None).top_n_grams == {2: 0.5, 3: 0.201, 4: 0.171}
    assert config.c4.thresholds_for("de", None).mode == "drop"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"fineweb_quality": {"languages": {"zh": {"line_punct": 0.1}}}}, "languages.zh: not a key"),
        ({"fineweb_quality": {"languages": {"zh": {"mode": "tag"}}}}, "only off or the section's own"),
        ({"fineweb_quality": {"languages": {"zh": {"line_punct_thr": "x"}}}}, "languages.zh.line_punct_thr"),
        ({"per_language_rules": False, "c4": {"languages": {"de": {}}}}, "needs per_language_rules"),
    ],
)
def test_a_bad_language_entry_is_refused_naming_it(given, says):
    with pytest.raises(ValidationError, match=says):
        FiltersConfig.model_validate(given)


def test_a_language_may_not_change_what_shapes_the_signals_nor_add_an_unmeasured_n_gram():
    shaping = FiltersConfig.model_validate(
        {"fineweb_quality": {"languages": {"zh": {"short_line_length": 10}}}}
    )
    with pytest.raises(
        ConfigError, match=r"fineweb_quality\.languages\.zh\.short_line_length: shapes the signals"
    ):
        filter_stages(shaping)
    n_gram = FiltersConfig.model_validate(
        {"gopher_repetition": {"languages": {"zh": {"top_n_grams": {5: 0.3}}}}}
    )
    with pytest.raises(ConfigError, match="no signal for n=5"):
        filter_stages(n_gram)


def test_c4_off_for_german_is_not_measured_nor_counted_by_the_what_ifs_and_refilter_cannot_turn_it_on():
    config = FiltersConfig()
    for name in ("repetition", "compression", "fineweb_quality", "gopher_repetition", "gopher_quality"):
        getattr(config, name).mode = "tag"
    config.c4.min_num_sentences = 50  # every page here is too short for C4
    judged = HeuristicFilterStage(config)(_docs([GERMAN, GERMAN], ["de", "en"]))
    assert judged.column("_removed").to_pylist() == [None, "c4:too_few_sentences"]
    assert judged.column("sig_c4_sentences").to_pylist()[0] is None
    what_if = {r["threshold"]: r for r in what_if_section(config, what_if_counts(judged, None, config))}
    assert what_if["c4.min_num_sentences"]["removed_at"][2]["documents"] == 1  # the English page only
    reasons, _ = redecide(judged, config, [None, None], [True, True])
    assert reasons == [None, "c4:too_few_sentences"]
    on_for_german = config.model_copy(deep=True)
    on_for_german.c4.languages = {"de": {"mode": "drop"}}
    with pytest.raises(ConfigError, match=r"c4\.languages\.de\.mode turns the filter on for de"):
        check_refilter(config, on_for_german)


def test_fineweb2_settings_keep_the_corpus_chinese_articles_english_settings_remove(zh_articles):
    docs = _docs(zh_articles, ["zh"] * len(zh_articles))
    own = HeuristicFilterStage(FiltersConfig())(docs).column("_removed").to_pylist()
    english = (
        HeuristicFilterStage(FiltersConfig(per_language_rules=False))(docs).column("_removed").to_pylist()
    )
    print(f"\nChinese articles kept: FineWeb-2 settings {own.count(None)}, English {english.count(None)}")
    assert own.count(None) >= 0.9 * len(zh_articles)
    assert english.count(None) < 0.5 * len(zh_articles)


def test_which_settings_judged_each_language_is_counted_per_batch_and_merged_for_stats_json():
    config = FiltersConfig.model_validate({"fineweb_quality": {"languages": {"de": {"new_line_ratio": 0.5}}}})
    stage = HeuristicFilterStage(config)
    stage(_docs([GERMAN, GERMAN, "中文的文章。", GERMAN], ["de", "en", "zh", "xx"]))
    assert stage.counters == Counter(
        {
            "language_settings:de=fineweb2:deu_Latn + config": 1,
            "language_settings:en=crawlsieve default": 1,
            "language_settings:zh=fineweb2:cmn_Hani": 1,
            "language_settings:xx=crawlsieve default": 1,
        }
    )
    english = language_settings_counts(_docs([GERMAN], ["de"]), FiltersConfig(per_language_rules=False))
    assert english == Counter({"language_settings:de=crawlsieve default": 1})
    settings, others = language_settings(stage.counters + english + Counter({"pii:emails": 3}))
    assert settings["de"] == {"fineweb2:deu_Latn + config": 1, "crawlsieve default": 1}
    assert settings["zh"] == {"fineweb2:cmn_Hani": 1} and others == Counter({"pii:emails": 3})


def test_config_lists_the_tuned_languages_and_check_refuses_a_language_value_that_shapes_signals(tmp_path):
    import subprocess
    import sys

    def crawlsieve(*args: str) -> subprocess.CompletedProcess:
        code = "import sys; from crawlsieve.pipelines.cli import main; sys.exit(main())"
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )

    listed = crawlsieve("config", "--languages")
    assert listed.returncode == 0
    assert "zh    cmn_Hani" in listed.stdout and "\nen " not in listed.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("filters:\n  fineweb_quality:\n    languages:\n      zh: {short_line_length: 10}\n")
    refused = crawlsieve("config", "--check", str(bad))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        refused.stderr.strip().count("\n") == 0 and "short_line_length: shapes the signals" in refused.stderr
    )
