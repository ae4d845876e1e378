"""Times and amounts as people type them on the command line.

Times (``--window-start``, ``--window-end``, ``--expiry``) accept:

* unix seconds: ``1767225600``;
* an ISO 8601 date or date-time: ``2026-01-01``, ``2026-01-01T12:00``, ``2026-01-01T12:00:00+02:00``
  (no zone given means UTC);
* a relative form ``+N<unit>``, unit one of ``s`` (seconds), ``m`` (minutes), ``h`` (hours),
  ``d`` (days), ``w`` (weeks): ``+90s``, ``+1h``, ``+30d``. Relative times count from the CHAIN's
  latest block time, not the local clock, so they mean the same on a devnet whose clock was moved.

Money (``--price``, ``--max-price``, ``--collateral-per-token``): an integer in the token's smallest
unit (``2000000000000000000``), or decimal tokens with a ``tok`` suffix (``2tok``, ``0.5tok``),
converted exactly (more than 18 decimals is an error, not a rounding).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from node.claims.errors import ClaimsInputError

_RELATIVE = re.compile(r"^\+(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_MAX_TIME = 2**64 - 1  # the contract stores windows as uint64
_TOKEN_SUFFIX = "tok"


def parse_time(text: str, *, now: int, field: str) -> int:
    """Unix seconds for ``text`` (see the module docstring); ``now`` anchors relative forms."""
    value = text.strip()
    if not value:
        raise ClaimsInputError(field, "empty time")
    match = _RELATIVE.match(value)
    if match:
        seconds = now + int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    elif value.isdigit():
        seconds = int(value)
    else:
        seconds = _parse_iso(value, field)
    if not 0 <= seconds <= _MAX_TIME:
        raise ClaimsInputError(field, f"{text!r} is out of range")
    return seconds


def _parse_iso(value: str, field: str) -> int:
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ClaimsInputError(
            field, f"{value!r} is not unix seconds, an ISO date or a relative time like +1h or +30d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def parse_money(text: str, *, field: str, allow_zero: bool = False) -> int:
    """An amount in the token's smallest unit from ``"123"`` (base units) or ``"1.5tok"`` (tokens)."""
    from tokenomics.errors import ParameterError
    from tokenomics.units import tokens_to_units

    value = text.strip().lower()
    try:
        if value.endswith(_TOKEN_SUFFIX):
            number = value[: -len(_TOKEN_SUFFIX)].strip()
            if not re.fullmatch(r"\d+(\.\d+)?", number):
                raise ClaimsInputError(field, f"{text!r} is not a decimal number of tokens")
            units = tokens_to_units(number)
        elif value.isdigit():
            units = int(value)
        else:
            raise ClaimsInputError(
                field, f"{text!r} is not an integer in base units or a token amount like 2tok"
            )
    except ParameterError as err:
        raise ClaimsInputError(field, str(err)) from None
    if units == 0 and not allow_zero:
        raise ClaimsInputError(field, "must be positive")
    if units >= 2**256:
        raise ClaimsInputError(field, "does not fit in uint256")
    return units


def parse_amount(text: str | int, *, field: str) -> int:
    """A positive whole number of claims (GPU-hours)."""
    value = str(text).strip()
    if not value.isdigit() or int(value) == 0:
        raise ClaimsInputError(field, f"{text!r} is not a positive whole number")
    if int(value) >= 2**256:
        raise ClaimsInputError(field, "does not fit in uint256")
    return int(value)
