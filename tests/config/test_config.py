"""The config loader: defaults, template round trip, errors that name the key, the CLI."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from node.cli import main
from node.config import (
    Config,
    ConfigKeyError,
    load_config,
    render_template,
    write_default_config,
)
from node.errors import ConfigError


def _write(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_missing_file_gives_documented_defaults(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg.home == tmp_path
    assert cfg.node.devnet is False
    assert cfg.p2p.listen == ("/ip4/127.0.0.1/tcp/0",)
    assert cfg.p2p.bootstrap == ()
    assert cfg.chain.confirmations == 1
    assert cfg.provider.device == "auto"
    assert isinstance(cfg.provider.price_per_unit, int)
    assert cfg.keystore_path == tmp_path / "keystore.json"
    assert cfg.db_path == tmp_path / "node.db"


def test_template_round_trips_to_the_defaults(tmp_path: Path) -> None:
    path = write_default_config(tmp_path)
    text = path.read_text()
    assert "# " in text and "[provider]" in text
    assert load_config(tmp_path) == Config(home=tmp_path)
    # Every key written is documented by a comment line right above it.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), line


def test_values_override_and_round_trip(tmp_path: Path) -> None:
    _write(
        tmp_path,
        '[node]\ndevnet = true\n[p2p]\nbootstrap = ["/ip4/127.0.0.1/tcp/4001/p2p/QmX"]\n'
        "gossip_rate = 3\n[provider]\nprice_per_unit = 123_000_000_000_000_000_000\n"
        'device = "cuda:1"\n[chain]\nkeystore = "/abs/ks.json"\n[verifier]\nchallenge_threshold = 1\n',
    )
    cfg = load_config(tmp_path)
    assert cfg.node.devnet is True
    assert cfg.p2p.bootstrap == ("/ip4/127.0.0.1/tcp/4001/p2p/QmX",)
    assert cfg.p2p.gossip_rate == 3
    assert cfg.provider.price_per_unit == 123 * 10**18  # beyond 64 bits is fine: integers
    assert cfg.provider.device == "cuda:1"
    assert cfg.keystore_path == Path("/abs/ks.json")
    assert cfg.verifier.challenge_threshold == 1.0
    # render(cfg) -> parse -> same config
    _write(tmp_path, render_template(cfg))
    assert load_config(tmp_path) == cfg


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[provider]\nmax_unitz = 3\n", "provider.max_unitz"),
        ("[providr]\nmax_units = 3\n", "providr"),
        ('home = "/x"\n', "home"),
        ('[provider]\nmax_units = "3"\n', "provider.max_units"),
        ("[provider]\nmax_units = 2.5\n", "provider.max_units"),
        ("[provider]\nmax_units = true\n", "provider.max_units"),
        ("[provider]\nmax_units = 0\n", "provider.max_units"),
        ("[provider]\nprice_per_unit = -1\n", "provider.price_per_unit"),
        ('[provider]\ndevice = "tpu"\n', "provider.device"),
        ("[node]\ndevnet = 1\n", "node.devnet"),
        ('[node]\nlog_level = "loud"\n', "node.log_level"),
        ('[p2p]\nlisten = "/ip4/127.0.0.1/tcp/0"\n', "p2p.listen"),
        ('[p2p]\nbootstrap = ["127.0.0.1:4001"]\n', "p2p.bootstrap"),
        ("[p2p]\nbootstrap = [1]\n", "p2p.bootstrap"),
        ("[chain]\nrpc_url = 8545\n", "chain.rpc_url"),
        ("[verifier]\nchallenge_threshold = 1.5\n", "verifier.challenge_threshold"),
        ("provider = 3\n", "provider"),
    ],
)
def test_bad_keys_and_types_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    _write(tmp_path, text)
    with pytest.raises(ConfigKeyError) as info:
        load_config(tmp_path)
    assert info.value.key == key
    assert f"{key}:" in str(info.value)
    assert "\n" not in str(info.value)


def test_malformed_toml_is_a_config_error(tmp_path: Path) -> None:
    _write(tmp_path, "[provider\nmax_units = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path)


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    write_default_config(tmp_path)
    with pytest.raises(ConfigError, match="exists"):
        write_default_config(tmp_path)
    write_default_config(tmp_path, force=True)


def test_cli_init_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "h"
    assert main(["--home", str(home), "config", "init"]) == 0
    assert (home / "config.toml").exists()
    capsys.readouterr()
    assert main(["config", "show", "--home", str(home), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["home"] == str(home)
    assert shown["provider"]["device"] == "auto"
    assert shown["p2p"]["listen"] == ["/ip4/127.0.0.1/tcp/0"]
    assert main(["config", "show", "--home", str(home)]) == 0
    text = capsys.readouterr().out
    assert tomllib.loads(text)["chain"]["confirmations"] == 1


def test_cli_bad_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "[chain]\nconfirmations = -2\n")
    assert main(["config", "show", "--home", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "chain.confirmations" in err and "Traceback" not in err
