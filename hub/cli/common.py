"""What every `hub` subcommand shares: the default config path, loading it, exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TypeAlias

from hub.config.loader import Config, ConfigError, load_config
from hub.connector import ConnectorRegistry

DEFAULT_CONFIG = os.environ.get("HUB_CONFIG", "config/hub.yaml")
EXIT_CONFIG = 2

# What `add_subparsers()` returns: each subcommand module adds its parser to it.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def load(path: str, registry: ConnectorRegistry) -> Config | None:
    """The config at `path`, or None after printing its problems to stderr."""
    try:
        return load_config(path, registry)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return None


def with_config(path: str, registry: ConnectorRegistry, command: Callable[[Config], int]) -> int:
    """`command(config)`, or EXIT_CONFIG when the config cannot be used."""
    config = load(path, registry)
    if config is None:
        return EXIT_CONFIG
    return command(config)
