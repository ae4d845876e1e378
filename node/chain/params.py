"""Deployment parameters for a real chain: the production preset and the params file.

:class:`~node.chain.deploy.DeployParams` defaults are devnet values (every job audited, one-minute
windows) so that a demo runs in seconds. A network that real people use needs other values, and
its windows must be long enough in *blocks* for a transaction to get in: :func:`production_params`
derives them from the chain's block time (``block_time_s``; 0 = a chain that mines on demand).

Production preset (documented in the README, "Deploying to a real chain")::

    audit_probability_bps   1_000   (one job in ten audited; the deterrent is collateral x probability)
    samples_k               8       units sampled per audit
    panel_size              5       verifiers drawn for a contest
    min_*_stake             1_000 tokens
    unbond_delay            7 days
    attest/contest window   max(10 min, 50 blocks)
    vote window             max(15 min, 75 blocks)
    reveal window           max(5 min, 25 blocks)       each audit-secret and ballot reveal step
    min fee / collateral    1 token / 10 tokens          (a job's fee pays its auditor; above its gas)
    capacity dispute window 1 day; capacity vote window max(1 h, 300 blocks); reveal window as above;
                            panel 5; absent member slash 100 tokens a seat; a verified figure
                            expires 7 days after its attestation unless re-attested
    contest bond 100, false-accuser slash 500, absent-verifier slash 100, capacity bond 100 tokens

A params file (``--params FILE``, TOML or JSON) starts from a preset and overrides fields::

    preset = "production"      # or "devnet"
    block_time_s = 12          # what the windows are derived from (default: measured on the chain)
    audit_probability_bps = 2_000

Every other key must be a :class:`DeployParams` field; an unknown key is refused by name.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.chain.deploy import DeployParams
from node.chain.token import TOKEN
from node.config import ConfigKeyError
from node.errors import ConfigError

if TYPE_CHECKING:
    from node.chain.client import ChainClient

#: Blocks looked back to measure a chain's block time.
BLOCK_TIME_SAMPLE = 20

PRESETS = ("production", "devnet")


def _window(floor_s: int, blocks: int, block_time_s: float) -> int:
    return max(floor_s, math.ceil(blocks * block_time_s))


def production_params(block_time_s: float) -> DeployParams:
    """The production preset (module docstring) with windows derived from ``block_time_s``."""
    if block_time_s < 0:
        raise ConfigError(f"block time must be at least 0 s, got {block_time_s}")
    values: dict[str, int] = {
        "audit_probability_bps": 1_000,
        "samples_k": 8,
        "panel_size": 5,
        "min_provider_stake": 1_000 * TOKEN,
        "min_verifier_stake": 1_000 * TOKEN,
        "unbond_delay": 7 * 86_400,
        "attest_window": _window(600, 50, block_time_s),
        "contest_window": _window(600, 50, block_time_s),
        "vote_window": _window(900, 75, block_time_s),
        "reveal_window": _window(300, 25, block_time_s),
        "min_fee": 1 * TOKEN,
        "min_collateral": 10 * TOKEN,
        "contest_bond": 100 * TOKEN,
        "false_accuser_slash": 500 * TOKEN,
        "absent_verifier_slash": 100 * TOKEN,
        "capacity_bond": 100 * TOKEN,
        "capacity_dispute_window": 86_400,
        "capacity_vote_window": _window(3_600, 300, block_time_s),
        "capacity_reveal_window": _window(300, 25, block_time_s),
        "capacity_panel_size": 5,
        "capacity_absent_slash": 100 * TOKEN,
        "capacity_reattest_period": 7 * 86_400,
    }
    return DeployParams(**values)


def preset_params(preset: str, block_time_s: float) -> DeployParams:
    """``production`` (derived from ``block_time_s``) or ``devnet`` (the DeployParams defaults)."""
    if preset == "production":
        return production_params(block_time_s)
    if preset == "devnet":
        return DeployParams()
    raise ConfigKeyError("preset", f"must be one of {', '.join(PRESETS)}, got {preset!r}")


def load_params_file(path: Path, *, block_time_s: float) -> tuple[DeployParams, float]:
    """Read a params file (TOML, or JSON when it ends in ``.json``); ``(params, block_time_s)``.

    ``block_time_s`` is the measured block time, used unless the file sets its own.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"params file {path} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"params file {path} unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"params file {path} is not a table of keys")
    data = dict(data)
    preset = data.pop("preset", "production")
    block_time = data.pop("block_time_s", block_time_s)
    if isinstance(block_time, bool) or not isinstance(block_time, int | float) or block_time < 0:
        raise ConfigKeyError("block_time_s", f"must be a number >= 0, got {block_time!r}", path=path)
    if not isinstance(preset, str):
        raise ConfigKeyError("preset", f"must be a string, got {preset!r}", path=path)
    params = preset_params(preset, float(block_time))
    fields = {f.name for f in dataclasses.fields(DeployParams)}
    overrides: dict[str, int] = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigKeyError(key, "unknown deploy parameter", path=path)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigKeyError(key, f"must be an integer >= 0, got {value!r}", path=path)
        overrides[key] = value
    return dataclasses.replace(params, **overrides), float(block_time)


def measure_block_time(client: ChainClient, *, sample: int = BLOCK_TIME_SAMPLE) -> float:
    """The mean seconds between the last ``sample`` blocks (0.0 on a chain with too few blocks,
    or one that mines on demand and has not moved its clock)."""
    head = client.block_number()
    first = max(0, head - sample)
    if head == first:
        return 0.0
    span = client.timestamp(head) - client.timestamp(first)
    return max(0.0, span / (head - first))
