"""samconfig.toml for policy_gen: the kit's one reader (:mod:`sam_project.samconfig`)."""

from sam_project.overrides import split_overrides
from sam_project.samconfig import Environment, load_environment


def parse_overrides(items: list[str] | tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Literal ``Name=Value`` overrides and the ``file://`` entries (not read)."""
    overrides = split_overrides(items)
    return overrides.values, overrides.files


__all__ = ["Environment", "load_environment", "parse_overrides"]
