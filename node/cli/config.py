"""``ccm config init|show``: write the commented default config, print the effective one."""

from __future__ import annotations

import argparse
from typing import Any

from node.cli._output import emit_json
from node.cli._parsers import command_group
from node.config import load_config, render_template, write_default_config


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "config", parents=parents, help="node configuration (config.toml)")

    init = sub.add_parser("init", parents=parents, help="write a commented default config.toml")
    init.add_argument("--force", action="store_true", help="overwrite an existing config.toml")
    init.set_defaults(func=_init)

    show = sub.add_parser("show", parents=parents, help="print the effective configuration")
    show.add_argument("--json", action="store_true", help="one JSON object instead of TOML")
    show.set_defaults(func=_show)


def _init(args: argparse.Namespace) -> int:
    path = write_default_config(args.home, force=args.force)
    print(f"wrote {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    config = load_config(args.home)
    if args.json:
        emit_json(config.to_dict())
    else:
        source = config.path if config.path.exists() else "defaults (no config.toml)"
        print(f"# home: {config.home}\n# from: {source}")
        print(render_template(config), end="")
    return 0
