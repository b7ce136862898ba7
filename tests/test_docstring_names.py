"""Every name of ours that the code's docstrings and comments (and docs/ARCHITECTURE.md) cite exists.

A backticked dotted name whose first part is one of crawlsieve's packages (``filters.base.Rule``,
``core.ledger.LEDGER_KEEP``, ``core.layout.RunLayout.marker``) must import as
``crawlsieve.<module>`` and resolve attribute by attribute, or be a config key
(``dedup.shuffle_min_docs``, ``filters.spam.drop``); a cited source file (``quality/review.py``)
must exist. Names of other libraries (``ray.data``, ``pyarrow.compute``, ``np.uint64``) are not
ours and not checked. So a module that moves or a name that is renamed leaves no stale citation.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import re
import tokenize
from pathlib import Path

import pydantic
import pytest

import crawlsieve
from crawlsieve.pipelines.config import Config

ROOT = Path(crawlsieve.__file__).parent
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")
#: A backticked dotted name, maybe called: `a.b`, ``a.b.c``, `a.b()`, `a.b(x, y)`.
DOTTED = re.compile(r"`{1,2}([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`{1,2}")
#: A cited source file of ours: quality/review.py, filters/data/build_fineweb2.py.
SOURCE = re.compile(r"(?<![\w./-])((?:" + "|".join(PACKAGES) + r")/[\w/]*\w\.py)\b")


def source_files() -> list[Path]:
    """The package's modules, and the contributors' map of them (docs/ARCHITECTURE.md)."""
    files = [ROOT / "__init__.py", ROOT / "__main__.py", ROOT / "docs" / "ARCHITECTURE.md"]
    files += sorted(f for package in PACKAGES for f in (ROOT / package).rglob("*.py"))
    return [f for f in files if f.is_file()]


def prose(path: Path) -> list[tuple[int, str]]:
    """The file's comments and string literals (docstrings among them), with their first line."""
    if path.suffix == ".md":
        return [(1, path.read_text(encoding="utf-8"))]
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    kinds = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    return [(token.start[0], token.string) for token in tokens if token.type in kinds]


def cited(pattern: re.Pattern, path: Path) -> list[tuple[str, str]]:
    """(where, what) for each match of ``pattern``'s first group in the file's prose."""
    return [
        (f"{path.relative_to(ROOT)}:{line + text[: match.start()].count(chr(10))}", match.group(1))
        for line, text in prose(path)
        for match in pattern.finditer(text)
    ]


def citations(path: Path) -> list[tuple[str, str]]:
    """The dotted names of ours the file cites (``crawlsieve.`` dropped)."""
    named = [(where, name.removeprefix("crawlsieve.")) for where, name in cited(DOTTED, path)]
    return [(where, name) for where, name in named if name.split(".")[0] in PACKAGES]


def _member(owner: object, name: str) -> object:
    """``owner.name``, counting a dataclass field, a pydantic field or an annotated attribute."""
    if hasattr(owner, name):
        return getattr(owner, name)
    if dataclasses.is_dataclass(owner) and name in {f.name for f in dataclasses.fields(owner)}:
        return object()
    if isinstance(owner, type) and issubclass(owner, pydantic.BaseModel) and name in owner.model_fields:
        return object()
    for klass in getattr(owner, "__mro__", ()):
        if name in getattr(klass, "__annotations__", {}):
            return object()
    raise AttributeError(name)


def resolves_in_code(name: str) -> bool:
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        module_name = "crawlsieve." + ".".join(parts[:split])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and module_name.startswith(error.name):
                continue  # not a module: try a shorter one, the rest attributes
            raise
        try:
            for part in parts[split:]:
                target = _member(target, part)
        except AttributeError:
            return False
        # A function or class is cited in the module that defines it, not in one that imports it.
        home = getattr(target, "__module__", module_name) if split == len(parts) - 1 else module_name
        return not (isinstance(home, str) and home.startswith("crawlsieve.") and home != module_name)
    return False


def is_config_key(name: str) -> bool:
    """Whether ``name`` is a key of the run's config (``filters.c4.mode``)."""
    model: type[pydantic.BaseModel] | None = Config
    for part in name.split("."):
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel)
            else None
        )
    return True


def test_the_package_cites_names_and_files_of_its_own():
    """The checks have something to check: a pattern that matched nothing would pass anything."""
    names = {name for path in source_files() for _, name in citations(path)}
    assert {"filters.base.Rule", "core.ledger.LEDGER_KEEP", "core.layout.check_apart"} <= names
    files = {name for path in source_files() for _, name in cited(SOURCE, path)}
    assert {"dedup/subdoc.py", "core/units.py"} <= files


def test_every_dotted_name_cited_in_a_docstring_or_comment_resolves():
    stale = [
        f"{where}: {name}"
        for path in source_files()
        for where, name in citations(path)
        if not resolves_in_code(name) and not is_config_key(name)
    ]
    assert not stale, "cited names that do not exist (or are cited where they are imported):\n" + "\n".join(
        stale
    )


def test_every_source_file_cited_in_a_docstring_or_comment_exists():
    missing = [
        f"{where}: {name}"
        for path in source_files()
        for where, name in cited(SOURCE, path)
        if not (ROOT / name).is_file()
    ]
    assert not missing, "cited files that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    ("text", "resolves"),
    [
        ("see ``filters.base.Rule``", True),
        ("`core.layout.RunLayout.marker(shard, phase)`", True),
        ("(``dedup.shuffle_min_docs``)", True),
        ("``quality.summaries.Summary.what_if``", True),
        ("``pipelines.stages``", False),
        ("``dedup.run.priority_keys``", False),
        ("``filters.spam.no_such_field``", False),
    ],
)
def test_the_check_tells_existing_names_from_stale_ones(text, resolves):
    (name,) = [m.group(1) for m in DOTTED.finditer(text)]
    assert (resolves_in_code(name) or is_config_key(name)) is resolves
