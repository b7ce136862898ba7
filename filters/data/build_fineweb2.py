"""Builds ``fineweb2.json`` (beside this file) from FineWeb-2's per-language filter settings.

    .venv/bin/python filters/data/build_fineweb2.py [REFERENCE_DIR]

REFERENCE_DIR (default ``../shared/reference/fineweb2``) holds ``language_filter_configs.json``:
the ``configs/*.yml`` files of huggingface/fineweb-2 at commit d0defb24 (2025-10-27), one per
GlotLID language_script name, under the Apache-2.0 license (its ``LICENSE``). The output holds,
for each lid.176 code that maps to one of those names (``LID176_TO_FINEWEB2``, the one table of
that mapping), FineWeb-2's tuned thresholds and stop words under crawlsieve's config names, and
``pipeline``: the choices FineWeb-2's filtering step (``fineweb-2-pipeline.py`` step 5) makes for
every language, read from its code (``PIPELINE``). The run reads only the output, never the
reference: ``tests/test_language_table.py`` checks the two agree when the reference is present.

Not carried over: ``language_score``, a minimum of GlotLID's confidence, which says nothing about
lid.176's scores (``language.min_score`` judges those).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "fineweb2.json"
REFERENCE = HERE.parents[2] / "shared" / "reference" / "fineweb2"
SOURCE = "huggingface/fineweb-2 at commit d0defb24 (2025-10-27), configs/*.yml and fineweb-2-pipeline.py"
LICENSE = "Apache-2.0 (the thresholds and stop word lists are FineWeb-2's, by the HuggingFace FineWeb team)"

#: lid.176's labels (ISO 639-1/3 codes) -> FineWeb-2's GlotLID language_script name. Macrolanguages
#: map to the individual language FineWeb-2 holds (zh -> Mandarin, ar -> Standard Arabic, ms ->
#: Standard Malay, fa -> Persian, et -> Standard Estonian, ...); a language written in more than one
#: script maps to its usual one on the web (sr -> Cyrillic, uz -> Latin). Not mapped: en (FineWeb-2
#: has no English: its settings are FineWeb's, crawlsieve's defaults) and sh (Serbo-Croatian,
#: which FineWeb-2 splits into Bosnian, Croatian and Serbian).
LID176_TO_FINEWEB2 = {
    "af": "afr_Latn", "als": "gsw_Latn", "am": "amh_Ethi", "an": "arg_Latn", "ar": "arb_Arab",
    "arz": "arz_Arab", "as": "asm_Beng", "ast": "ast_Latn", "av": "ava_Cyrl", "az": "azj_Latn",
    "azb": "azb_Arab", "ba": "bak_Cyrl", "bar": "bar_Latn", "bcl": "bcl_Latn", "be": "bel_Cyrl",
    "bg": "bul_Cyrl", "bh": "bho_Deva", "bn": "ben_Beng", "bo": "bod_Tibt", "bpy": "bpy_Beng",
    "br": "bre_Latn", "bs": "bos_Latn", "bxr": "bxr_Cyrl", "ca": "cat_Latn", "cbk": "cbk_Latn",
    "ce": "che_Cyrl", "ceb": "ceb_Latn", "ckb": "ckb_Arab", "co": "cos_Latn", "cs": "ces_Latn",
    "cv": "chv_Cyrl", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn", "diq": "diq_Latn",
    "dsb": "dsb_Latn", "dty": "dty_Deva", "dv": "div_Thaa", "el": "ell_Grek", "eml": "eml_Latn",
    "eo": "epo_Latn", "es": "spa_Latn", "et": "ekk_Latn", "eu": "eus_Latn", "fa": "fas_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "frr": "frr_Latn", "fy": "fry_Latn", "ga": "gle_Latn",
    "gd": "gla_Latn", "gl": "glg_Latn", "gn": "gug_Latn", "gom": "gom_Deva", "gu": "guj_Gujr",
    "gv": "glv_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hif": "hif_Latn", "hr": "hrv_Latn",
    "hsb": "hsb_Latn", "ht": "hat_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "ia": "ina_Latn",
    "id": "ind_Latn", "ie": "ile_Latn", "ilo": "ilo_Latn", "io": "ido_Latn", "is": "isl_Latn",
    "it": "ita_Latn", "ja": "jpn_Jpan", "jbo": "jbo_Latn", "jv": "jav_Latn", "ka": "kat_Geor",
    "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang", "krc": "krc_Cyrl",
    "ku": "kmr_Latn", "kv": "kpv_Cyrl", "kw": "cor_Latn", "ky": "kir_Cyrl", "la": "lat_Latn",
    "lb": "ltz_Latn", "lez": "lez_Cyrl", "li": "lim_Latn", "lmo": "lmo_Latn", "lo": "lao_Laoo",
    "lrc": "lrc_Arab", "lt": "lit_Latn", "lv": "lvs_Latn", "mai": "mai_Deva", "mg": "plt_Latn",
    "mhr": "mhr_Cyrl", "min": "min_Latn", "mk": "mkd_Cyrl", "ml": "mal_Mlym", "mn": "khk_Cyrl",
    "mr": "mar_Deva", "mrj": "mrj_Cyrl", "ms": "zsm_Latn", "mt": "mlt_Latn", "mwl": "mwl_Latn",
    "my": "mya_Mymr", "myv": "myv_Cyrl", "mzn": "mzn_Arab", "nah": "nah_Latn", "nap": "nap_Latn",
    "nds": "nds_Latn", "ne": "npi_Deva", "new": "new_Deva", "nl": "nld_Latn", "nn": "nno_Latn",
    "no": "nob_Latn", "oc": "oci_Latn", "or": "ory_Orya", "os": "oss_Cyrl", "pa": "pan_Guru",
    "pam": "pam_Latn", "pfl": "pfl_Latn", "pl": "pol_Latn", "pms": "pms_Latn", "pnb": "pnb_Arab",
    "ps": "pbt_Arab", "pt": "por_Latn", "qu": "quz_Latn", "rm": "roh_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "rue": "rue_Cyrl", "sa": "san_Deva", "sah": "sah_Cyrl", "sc": "srd_Latn",
    "scn": "scn_Latn", "sco": "sco_Latn", "sd": "snd_Arab", "si": "sin_Sinh", "sk": "slk_Latn",
    "sl": "slv_Latn", "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "su": "sun_Latn",
    "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "tg": "tgk_Cyrl",
    "th": "tha_Thai", "tk": "tuk_Latn", "tl": "fil_Latn", "tr": "tur_Latn", "tt": "tat_Cyrl",
    "tyv": "tyv_Cyrl", "ug": "uig_Arab", "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn",
    "vec": "vec_Latn", "vep": "vep_Latn", "vi": "vie_Latn", "vls": "vls_Latn", "vo": "vol_Latn",
    "wa": "wln_Latn", "war": "war_Latn", "wuu": "wuu_Hani", "xal": "xal_Cyrl", "xmf": "xmf_Geor",
    "yi": "ydd_Hebr", "yo": "yor_Latn", "yue": "yue_Hani", "zh": "cmn_Hani",
}  # fmt: skip

#: FineWeb-2's filtering step for every language (fineweb-2-pipeline.py step 5), under crawlsieve's
#: names; ``None`` turns a rule off (datatrove's 0, and FineWeb-2's ``short_line_thr=999``).
PIPELINE = {
    # "we disable these. trafilatura pretty much removes paragraph and we use a different threshold
    # for dup_line_char_frac in fineweb quality"
    "gopher_repetition": {"dup_para_frac": None, "dup_line_char_frac": None, "dup_para_char_frac": None},
    # short_line_thr=999 ("we disable this filter"); char_duplicates_ratio=0.1 ("we changed this
    # from 0.01 in fineweb english")
    "fineweb_quality": {"short_line_thr": None, "char_duplicates_ratio": 0.1},
    "gopher_quality": {"min_stop_words": 2},
    # "we do not apply the C4 filters"
    "c4": {"mode": "off"},
}


def n_gram_thresholds(value) -> dict[str, float]:
    """``top_n_grams``/``dup_n_grams``: a list of [n, threshold] pairs -> {"n": threshold}."""
    return {str(n): float(threshold) for n, threshold in value}


def language_entry(name: str, config: dict) -> dict:
    """One language's values under crawlsieve's config names (each section's field, as in
    ``filters/config.py``). datatrove's ``max_non_alpha_words_ratio`` is a *minimum* share of
    words with a letter (``gopher_below_alpha_threshold``): crawlsieve's ``min_alpha_words_ratio``."""
    return {
        "fineweb2": name,
        "stop_words": list(config["stopwords"]),
        "gopher_repetition": {
            "dup_line_frac": config["dup_line_frac"],
            "top_n_grams": n_gram_thresholds(config["top_n_grams"]),
            "dup_n_grams": n_gram_thresholds(config["dup_n_grams"]),
        },
        "fineweb_quality": {
            "line_punct_thr": config["line_punct_thr"],
            "new_line_ratio": config["new_line_ratio"],
        },
        "gopher_quality": {
            "min_avg_word_length": config["min_avg_word_length"],
            "max_avg_word_length": config["max_avg_word_length"],
            "min_alpha_words_ratio": config["max_non_alpha_words_ratio"],
        },
    }


def build(reference: Path) -> dict:
    configs = json.loads((reference / "language_filter_configs.json").read_text(encoding="utf-8"))
    missing = sorted(name for name in LID176_TO_FINEWEB2.values() if name not in configs)
    if missing:
        raise SystemExit(f"not in the reference: {', '.join(missing)}")
    return {
        "source": SOURCE,
        "license": LICENSE,
        "pipeline": PIPELINE,
        "languages": {
            code: language_entry(name, configs[name]) for code, name in sorted(LID176_TO_FINEWEB2.items())
        },
    }


def main(argv: list[str]) -> int:
    reference = Path(argv[0]) if argv else REFERENCE
    table = build(reference)
    # One language a line, so a change to the table reads as a change to the languages it touches.
    head = {key: value for key, value in table.items() if key != "languages"}
    lines = [
        f" {json.dumps(code)}: {json.dumps(entry, ensure_ascii=False)}"
        for code, entry in table["languages"].items()
    ]
    text = json.dumps(head, ensure_ascii=False, indent=1)[:-2] + ',\n "languages": {\n'
    OUTPUT.write_text(text + ",\n".join(lines) + "\n }\n}\n", encoding="utf-8")
    print(f"{OUTPUT}: {len(table['languages'])} languages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
