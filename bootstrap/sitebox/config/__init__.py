"""The files a site admin writes: loaded with every key's line, checked against a schema."""

from sitebox.config.loader import (
    ConfigError,
    Document,
    Problem,
    format_key_path,
    load_yaml,
    load_yaml_text,
    validate,
)

__all__ = [
    "ConfigError",
    "Document",
    "Problem",
    "format_key_path",
    "load_yaml",
    "load_yaml_text",
    "validate",
]
