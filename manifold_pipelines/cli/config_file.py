"""Reading a source config from a .json, .yaml or .yml file, with bounds on what it may
become: at most 1 MiB of file, and YAML aliases (`*name`) few and never expanding it past
1 MiB, so that a "billion laughs" file of a few hundred bytes (or one large value repeated
through a few aliases) cannot grow to gigabytes. The size is counted on YAML's node graph,
where aliased values are still shared, before anything is built from it.

Numbers are read as JSON can hold them, since the config is stored as JSON: YAML 1.1's
base-60 numbers (`1:30`, whose conversion is quadratic), integers beyond 64 bits and
infinity or NaN are refused, each with its line, before it is converted."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import yaml

from manifold_pipelines.core.source_config import MAX_CONFIG_BYTES
from manifold_pipelines.errors import ConfigError

MAX_ALIASES = 100


def load_config_file(path: str) -> dict[str, Any]:
    """A source config from .json, .yaml or .yml; the size of what it holds is checked again
    when the source is saved."""
    with Path(path).open("rb") as handle:
        data = handle.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: the file is more than the 1 MiB a config may have. Keep data out of"
            " configs: read it through a file source or fetch."
        )
    is_yaml = path.endswith((".yaml", ".yml"))
    try:
        loaded = _load_yaml(data, path) if is_yaml else orjson.loads(data)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'YAML' if is_yaml else 'JSON'}: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: the config is nested too deeply to be read.") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{path}: a source config must be an object of keys, got {type(loaded).__name__}."
        )
    return loaded


def _load_yaml(data: bytes, path: str) -> Any:
    loader = _ConfigLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            _expanded_bytes(node, _Count())
            return loader.construct_document(node)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    finally:
        loader.dispose()


# orjson, which stores configs, writes integers from -2**63 to 2**64 - 1.
_JSON_INTEGERS = range(-(2**63), 2**64)
# 2**64 takes 64 binary digits, fewer in any other base: a longer integer is refused unread.
_MAX_INTEGER_DIGITS = 64


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe types, with numbers only as JSON holds them."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        written = str(self.construct_scalar(node))
        _refuse_base_60(node, written)
        digits = written.replace("_", "").lstrip("+-").removeprefix("0x").removeprefix("0b")
        if len(digits) > _MAX_INTEGER_DIGITS:
            raise _number_error(
                node,
                f"an integer of {len(digits):,} digits is more than fits in 64 bits. Quote it"
                " to keep it as text.",
            )
        value: int = super().construct_yaml_int(node)
        if value not in _JSON_INTEGERS:
            raise _number_error(
                node, f"{written} does not fit in 64 bits. Quote it to keep it as text."
            )
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        written = str(self.construct_scalar(node))
        _refuse_base_60(node, written)
        value: float = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _number_error(
                node,
                f"{written} is not a finite number, and JSON has no infinity or NaN. Quote it"
                " to keep it as text, or use null or a large finite number.",
            )
        return value


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _ConfigLoader.construct_yaml_int)
_ConfigLoader.add_constructor("tag:yaml.org,2002:float", _ConfigLoader.construct_yaml_float)


def _refuse_base_60(node: yaml.ScalarNode, written: str) -> None:
    if ":" in written:
        shown = written if len(written) <= 20 else f"{written[:17]}..."
        raise _number_error(
            node,
            f"{shown} is a YAML 1.1 base-60 number (1:30 is 90). Quote it to keep it as text,"
            " or write the number in decimal.",
        )


def _number_error(node: yaml.ScalarNode, problem: str) -> ConfigError:
    mark = node.start_mark
    return ConfigError(f"line {mark.line + 1}, column {mark.column + 1}: {problem}")


class _Count:
    """Walking YAML's node graph: an alias is the same node object met again."""

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        self.aliases = 0


def _expanded_bytes(node: yaml.Node, count: _Count) -> int:
    """At least how many bytes `node` becomes as JSON once every alias is expanded: a
    scalar's text and one byte of punctuation per value. A shared node is walked once and
    counted once per use, so counting a bomb stays cheap, and a value repeated through a
    few aliases counts as often as it will be written out."""
    key = id(node)
    if key in count.sizes:
        count.aliases += 1
        if count.aliases > MAX_ALIASES:
            raise ConfigError(
                f"the YAML uses more than {MAX_ALIASES} aliases (*name). A config needs few:"
                " write the values out, or use JSON."
            )
        return count.sizes[key]
    if key in count.open:
        raise ConfigError("the YAML refers to itself through an alias; a config must be a tree.")
    count.open.add(key)
    children: list[yaml.Node] = []
    total = 1
    if isinstance(node, yaml.ScalarNode):
        total += len(node.value.encode())
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    for child in children:
        total += _expanded_bytes(child, count)
        if total > MAX_CONFIG_BYTES:
            break
    if total > MAX_CONFIG_BYTES:
        raise ConfigError(
            "the YAML becomes more than 1 MiB once its aliases (*name) are expanded, more than"
            " a config may have (a 'billion laughs' file?). Write the values out instead of"
            " repeating them through aliases, and keep data out of configs."
        )
    count.open.discard(key)
    count.sizes[key] = total
    return total
