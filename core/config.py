"""The base of every config section: typed, validated, documented, unknown keys refused; and the
one reader of the YAML files a user gives (configs, mixture targets).

Each package owns the config of its own stages (``filters.config``, ``dedup.config``,
``quality.config``); ``pipelines.config`` composes them into the one YAML file.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from crawlsieve.core.errors import ConfigError

#: ``Field(json_schema_extra=NAMES_FILES)``: the field names local files the run reads (a path, or
#: a list or dict of paths), which ``Section.named_files`` lists so that no output may hold them.
NAMES_FILES = {"names_files": True}
#: Nodes and scalar characters that YAML aliases may add to a file once expanded: a few repeated
#: settings pass, a "billion laughs" (aliases of aliases, 10**9 strings from 1 kB) does not.
MAX_ALIAS_GROWTH = 100_000


class Section(BaseModel):
    """A config section. Field descriptions are printed by ``crawlsieve config --defaults``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic's lax mode reads `true` as 1 where a number is wanted; a config never means that
        (strict mode would also refuse the "2" keys that JSON gives a dict of ints, as in run.json)."""
        if info.field_name and _bool_for_number(value, cls.model_fields[info.field_name].annotation):
            raise ValueError("a number is wanted, not true or false")
        return value

    def named_files(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """(key, path) of every local file this section names (its ``NAMES_FILES`` fields)."""
        for name, field in type(self).model_fields.items():
            value, key = getattr(self, name), f"{prefix}{name}"
            if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("names_files"):
                if isinstance(value, dict):
                    paths = [(f"{key}.{k}", v) for k, v in value.items()]
                elif isinstance(value, list):
                    paths = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
                else:
                    paths = [(key, value)]
                yield from ((k, path) for k, path in paths if path)
            elif isinstance(value, Section):
                yield from value.named_files(f"{key}.")
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, Section):
                        yield from item.named_files(f"{key}[{i}].")


def _arms(annotation: Any) -> list[Any]:
    """The plain types an annotation allows (``int | None`` -> int, None; ``PositiveInt`` -> int)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _arms(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [arm for arg in get_args(annotation) for arm in _arms(arg)]
    return [annotation]


def _bool_for_number(value: Any, annotation: Any) -> bool:
    """Whether ``value`` holds a bool where ``annotation`` wants a number and no bool."""
    arms = _arms(annotation)
    if isinstance(value, bool):
        return any(arm in (int, float) for arm in arms) and bool not in arms and Any not in arms
    for arm in arms:
        args = get_args(arm)
        if isinstance(value, dict) and get_origin(arm) is dict and len(args) == 2:
            return any(_bool_for_number(k, args[0]) or _bool_for_number(v, args[1]) for k, v in value.items())
        if isinstance(value, list) and get_origin(arm) in (list, tuple) and args:
            return any(_bool_for_number(item, args[0]) for item in value)
    return False


# --- reading YAML ----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """yaml's safe loader, refusing a key given twice in one mapping (a typo would otherwise
    silently lose to the later value)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the schema refuses it by name later
            if key in seen:
                raise ConfigError(f"key '{key}' given twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _check_aliases(root: yaml.Node) -> None:
    """Refuse aliases that make the data much larger than the file (each alias is a copy of its
    anchor's node once constructed) or that refer to a node inside their own anchor: measured on
    the composed nodes, each counted once (walked without recursion: nesting is the loader's)."""
    expanded: dict[int, int] = {}  # id(node) -> its nodes and characters, aliases expanded
    once = 0
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        own = 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
        if done:
            ancestors.discard(id(node))
            expanded[id(node)] = own + sum(expanded[id(child)] for child in _children(node))
            continue
        if id(node) in expanded:
            continue
        if id(node) in ancestors:
            raise ConfigError(f"an alias at line {node.start_mark.line + 1} refers to a node inside itself")
        ancestors.add(id(node))
        once += own
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node))
    growth = expanded[id(root)] - once
    if growth > MAX_ALIAS_GROWTH:
        raise ConfigError(
            f"YAML aliases would add {growth:,} nodes and characters to it (at most {MAX_ALIAS_GROWTH:,})"
        )


def read_yaml(path: str | Path, what: str) -> Any:
    """The data of a YAML (or JSON) file the user gives; ``ConfigError`` with one line naming the
    file (``what``: config, target) when it is unreadable, not UTF-8, not YAML, nested too deeply,
    gives a key twice or holds aliases that expand it past ``MAX_ALIAS_GROWTH``."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {what} {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {error.start})") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node)
        return loader.construct_document(node)
    except ConfigError as error:
        raise ConfigError(f"{what} {path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{what} {path} is not valid YAML{where}") from None
    except RecursionError:
        raise ConfigError(f"{what} {path} is nested too deeply to be a crawlsieve {what}") from None
    finally:
        loader.dispose()
