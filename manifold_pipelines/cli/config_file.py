"""Reading a source config from a .json, .yaml or .yml file, with bounds on what it may
become: at most 1 MiB of file, and YAML aliases (`*name`) few and never expanding it past
1 MiB, so that a "billion laughs" file of a few hundred bytes (or one large value repeated
through a few aliases) cannot grow to gigabytes. The size is counted on YAML's node graph,
where aliased values are still shared, before anything is built from it."""

from __future__ import annotations

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
    loader = yaml.SafeLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            _expanded_bytes(node, _Count())
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        return loader.construct_document(node)
    finally:
        loader.dispose()


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
