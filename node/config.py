"""The node's configuration: THE one loader for ``<home>/config.toml``.

Every section is a frozen dataclass whose fields carry their default and a one-line ``doc``; the
same metadata writes the commented template (``ccm config init``), so the documented defaults and the
effective defaults cannot drift apart. A missing file means "all defaults".

Error handling: an unknown section or key, a value of the wrong type or a value out of range raises
:class:`ConfigKeyError` (a :class:`~node.errors.ConfigError`) whose ``key`` is the dotted name
(``"provider.max_units"``), so the user knows exactly which line to fix. Booleans are never accepted
as integers and integers never as strings; a float field accepts an integer.

Money (``provider.price_per_unit``, ``consumer.max_price``) is an integer in the token's smallest
unit. Relative paths (``chain.keystore``) are resolved against the home folder. ``node.home`` is not
a file key: it is where the file lives (``--home`` / ``$CCM_HOME``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.errors import ConfigError

CONFIG_FILE = "config.toml"

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class ConfigKeyError(ConfigError):
    """A config key is unknown, of the wrong type or out of range; ``key`` is its dotted name."""

    def __init__(self, key: str, message: str, *, path: Path | None = None) -> None:
        self.key = key
        self.path = path
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}{key}: {message}")


def _opt(default: Any, doc: str, **checks: Any) -> Any:
    """A config field with its default, its documentation and optional range checks."""
    return field(default=default, metadata={"doc": doc, **checks})


@dataclass(frozen=True)
class NodeSection:
    """Identity of this node and its mode."""

    devnet: bool = _opt(
        False, "devnet mode: may use Anvil's well-known accounts (never on a real network)"
    )
    log_level: str = _opt("info", "log level: debug, info, warning or error",
                          choices=("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class P2PSection:
    """The libp2p host."""

    listen: tuple[str, ...] = _opt(
        ("/ip4/127.0.0.1/tcp/0",), "multiaddrs to listen on (tcp/0: any free port)", multiaddr=True
    )
    bootstrap: tuple[str, ...] = _opt((), "peers to dial at start, full multiaddrs with /p2p/<peer id>",
                                      multiaddr=True)
    gossip_rate: int = _opt(10, "gossip messages accepted per second per peer and topic", min=1)
    request_timeout_s: float = _opt(10.0, "seconds to wait for a reply to one request", min=0.001)


@dataclass(frozen=True)
class ChainSection:
    """The settlement chain."""

    rpc_url: str = _opt("", "JSON-RPC endpoint of the chain (empty: the one in the deployment record)")
    keystore: str = _opt("keystore.json", "encrypted eth-account keystore (relative to the home)", path=True)
    confirmations: int = _opt(
        1, "confirmations a block needs before the node acts on it (1: on inclusion)", min=1
    )
    deployment: str = _opt("deployment.json", "contract addresses (relative to the home)", path=True)
    max_fee_per_gas: int = _opt(0, "most this node pays per gas, wei (0: no cap)", min=0)
    replace_after_blocks: int = _opt(
        3, "blocks a transaction may wait in the pool before it is re-sent with a higher fee (0: never)",
        min=0,
    )


@dataclass(frozen=True)
class ProviderSection:
    """What the provider sells and the limits it enforces on every job."""

    price_per_unit: int = _opt(1_000_000_000_000_000, "price of one job unit, token's smallest unit", min=0)
    max_units: int = _opt(1024, "largest number of units in one job", min=1)
    max_bytes: int = _opt(1 << 30, "largest total input + output size of one job, bytes", min=1)
    max_seconds: int = _opt(600, "longest compute time of one job, seconds", min=1)
    max_memory: int = _opt(8 << 30, "largest device memory one job may use, bytes", min=1)
    device: str = _opt("auto", "compute device: auto, cpu, cuda or cuda:N", pattern=_DEVICE_RE)
    reprobe_s: int = _opt(86_400, "seconds between capacity probes of the running daemon", min=60)
    llm_families: tuple[str, ...] = _opt(
        ("llama", "qwen2", "gpt2", "mistral"),
        "llm model families (model_type) served, advertised in the signed offer",
        each_of=("llama", "qwen2", "gpt2", "mistral"),
    )
    llm_max_params: int = _opt(
        8_000_000_000, "largest llm model served, parameters (advertised; bytes: max_bytes)", min=0
    )


@dataclass(frozen=True)
class VerifierSection:
    """Audits and capacity challenges this node performs."""

    detection_target: float = _opt(0.99, "probability of catching a provider that cheats on 10% of units",
                                   min=0.0, max=1.0)
    max_units_per_audit: int = _opt(64, "most units recomputed in one audit", min=1)
    challenge_n: int = _opt(2048, "largest matrix size of a capacity challenge this node sends (n x n)",
                            min=16, max=32768)
    challenge_threshold: float = _opt(0.5, "achieved / advertised TFLOP/s below which a challenge fails",
                                      min=0.0, max=1.0)


@dataclass(frozen=True)
class ConsumerSection:
    """How this node buys compute."""

    max_price: int = _opt(0, "most this node pays for one job, token's smallest unit (0: no limit)", min=0)
    prefer_verified: bool = _opt(True, "rank offers by capacity verified by challenges, not the claim")
    offer_wait_s: float = _opt(5.0, "seconds to collect offers before choosing one", min=0.0)


@dataclass(frozen=True)
class DashboardSection:
    """The read-only dashboard a running provider or verifier daemon serves (as ``ccm dashboard``)."""

    port: int = _opt(0, "serve the dashboard inside the provider/verifier daemon on 127.0.0.1:PORT (0: off)",
                     min=0, max=65535)


_SECTIONS: dict[str, type] = {
    "node": NodeSection,
    "p2p": P2PSection,
    "chain": ChainSection,
    "provider": ProviderSection,
    "verifier": VerifierSection,
    "consumer": ConsumerSection,
    "dashboard": DashboardSection,
}


@dataclass(frozen=True)
class Config:
    """The effective configuration of one node (defaults overlaid with ``<home>/config.toml``)."""

    home: Path
    node: NodeSection = field(default_factory=NodeSection)
    p2p: P2PSection = field(default_factory=P2PSection)
    chain: ChainSection = field(default_factory=ChainSection)
    provider: ProviderSection = field(default_factory=ProviderSection)
    verifier: VerifierSection = field(default_factory=VerifierSection)
    consumer: ConsumerSection = field(default_factory=ConsumerSection)
    dashboard: DashboardSection = field(default_factory=DashboardSection)

    @property
    def path(self) -> Path:
        """Where this config lives (it need not exist)."""
        return self.home / CONFIG_FILE

    def resolve(self, p: str | Path) -> Path:
        """``p`` (``~`` expanded) made absolute against the home folder."""
        path = Path(p).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def keystore_path(self) -> Path:
        return self.resolve(self.chain.keystore)

    @property
    def deployment_path(self) -> Path:
        return self.resolve(self.chain.deployment)

    @property
    def db_path(self) -> Path:
        return self.home / "node.db"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: ``{"home": ..., "node": {...}, ...}``."""
        out: dict[str, Any] = {"home": str(self.home)}
        for name in _SECTIONS:
            section = getattr(self, name)
            out[name] = {f.name: _to_plain(getattr(section, f.name)) for f in dataclasses.fields(section)}
        return out


def _to_plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value


def load_config(home: Path) -> Config:
    """Read ``<home>/config.toml`` (defaults where it or a key is missing).

    Raises :class:`ConfigKeyError` naming the key for unknown keys, wrong types or out-of-range
    values, and :class:`~node.errors.ConfigError` for a file that is not valid TOML.
    """
    home = Path(home).expanduser()
    path = home / CONFIG_FILE
    if not path.exists():
        return Config(home=home)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return config_from_dict(data, home=home, path=path)


def config_from_dict(data: dict[str, Any], *, home: Path, path: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML data, validating every key (see :func:`load_config`)."""
    sections: dict[str, Any] = {}
    for name, value in data.items():
        cls = _SECTIONS.get(name)
        if cls is None:
            if name == "home":
                raise ConfigKeyError("home", "is set by --home or $CCM_HOME, not in the file", path=path)
            raise ConfigKeyError(name, f"unknown section (known: {', '.join(_SECTIONS)})", path=path)
        if not isinstance(value, dict):
            raise ConfigKeyError(name, "must be a table ([" + name + "])", path=path)
        sections[name] = _build_section(name, cls, value, path)
    return Config(home=home, **sections)


def _build_section(name: str, cls: type, values: dict[str, Any], path: Path | None) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        dotted = f"{name}.{key}"
        if key not in fields:
            raise ConfigKeyError(dotted, f"unknown key (known: {', '.join(fields)})", path=path)
        value = _coerce(dotted, hints[key], raw, path)
        _check_range(dotted, fields[key].metadata, value, path)
        kwargs[key] = value
    return cls(**kwargs)


def _type_name(tp: Any) -> str:
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    return "a list of strings"


def _coerce(key: str, tp: Any, raw: Any, path: Path | None) -> Any:
    def bad() -> ConfigKeyError:
        return ConfigKeyError(key, f"must be {_type_name(tp)}, got {type(raw).__name__} {raw!r}", path=path)

    if tp is bool:
        if not isinstance(raw, bool):
            raise bad()
        return raw
    if tp is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise bad()
        return raw
    if tp is float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise bad()
        return float(raw)
    if tp is str:
        if not isinstance(raw, str):
            raise bad()
        return raw
    origin = typing.get_origin(tp)
    if origin is tuple or isinstance(tp, types.GenericAlias):
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise bad()
        return tuple(raw)
    raise AssertionError(f"unsupported config type {tp!r} for {key}")


def _check_range(key: str, meta: Any, value: Any, path: Path | None) -> None:
    if "min" in meta and value < meta["min"]:
        raise ConfigKeyError(key, f"must be at least {meta['min']}, got {value!r}", path=path)
    if "max" in meta and value > meta["max"]:
        raise ConfigKeyError(key, f"must be at most {meta['max']}, got {value!r}", path=path)
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigKeyError(key, f"must be one of {', '.join(meta['choices'])}, got {value!r}", path=path)
    if meta.get("path") and not value.strip():
        raise ConfigKeyError(key, "must not be empty", path=path)
    if "pattern" in meta and not meta["pattern"].match(value):
        raise ConfigKeyError(key, f"invalid value {value!r}", path=path)
    if "each_of" in meta:
        for item in value:
            if item not in meta["each_of"]:
                choices = ", ".join(meta["each_of"])
                raise ConfigKeyError(key, f"{item!r} is not one of {choices}", path=path)
    if meta.get("multiaddr"):
        for addr in value:
            if not addr.startswith("/") or "//" in addr or addr.endswith("/"):
                raise ConfigKeyError(key, f"not a multiaddr: {addr!r}", path=path)


def _toml_value(value: Any) -> str:
    # JSON string escapes (\", \\, \n, \uXXXX) are valid TOML basic-string escapes.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise AssertionError(f"cannot write {value!r} as TOML")


def render_template(config: Config | None = None) -> str:
    """A commented ``config.toml`` with every key and its documentation.

    With ``config`` the values are that config's; otherwise the defaults (``home`` does not matter).
    """
    lines = [
        "# ccm node configuration. Every key is optional; the values below are the defaults.",
        "# Money is in the token's smallest unit; relative paths are relative to this folder.",
    ]
    for name, cls in _SECTIONS.items():
        section = getattr(config, name) if config is not None else cls()
        lines += ["", f"[{name}]", f"# {(cls.__doc__ or '').strip()}"]
        for f in dataclasses.fields(section):
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {_toml_value(getattr(section, f.name))}")
    return "\n".join(lines) + "\n"


def write_default_config(home: Path, *, force: bool = False) -> Path:
    """Write the commented default ``config.toml`` into ``home``; refuse to overwrite unless ``force``."""
    home = Path(home).expanduser()
    path = home / CONFIG_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path} exists (use --force to overwrite)")
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(render_template(), encoding="utf-8")
    tmp.replace(path)
    return path
