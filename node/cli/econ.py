"""``ccm econ depreciation|forward|breakeven|audit|simulate``: the tokenomics models from the shell.

Every subcommand prints a short table, or one JSON object with ``--json``, and can draw a PNG with
``--plot FILE``. Numbers are parsed here (not by argparse) so that a bad value is one line from the
tokenomics error tree (exit 1), never a traceback. Token amounts on the command line are decimal
tokens; in JSON, money that must match the chain is an integer of base units (``*_tokens`` fields
repeat it as a decimal string), model prices are USD floats.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from node.cli._output import emit_json, table
from node.cli._parsers import command_group
from tokenomics.audit import (
    AuditTerms,
    detection,
    expected_gain,
    expected_profit,
    min_audit_probability_bps,
    min_collateral,
    n_bad_for_fraction,
    verifier_economics,
    worst_cheat,
)
from tokenomics.costs import OperatingCosts
from tokenomics.depreciation import DepreciationModel, depreciation_curve, economic_life_years, economic_value
from tokenomics.errors import ParameterError
from tokenomics.forward import ForwardTerms, forward_curve, parse_months
from tokenomics.market_data import load_market_data
from tokenomics.provider import ProviderTerms, forward_vs_spot
from tokenomics.simulation import SimulationParams, run_simulation
from tokenomics.units import BPS, UNIT, tokens_to_units, units_to_tokens
from verifier.detection import plan_samples
from verifier.errors import InvalidArgument

_AUDIT_FRACTIONS = ("0.001", "0.01", "0.05", "0.1", "0.25", "0.5", "0.75", "1")


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    sub = command_group(
        subparsers, "econ", parents=parents, help="economics: prices, break-even, audits, simulation"
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=parents, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--plot", metavar="FILE", help="also draw a PNG to FILE")
        return p

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--step", help="perf-per-dollar step per generation (default from data: 1.4)")
        p.add_argument("--cadence", help="years between generations (default from data: 1)")
        p.add_argument("--mode", default="continuous", help="continuous (expected path) or stepped")
        p.add_argument("--next-release", help="stepped mode: years to the next release (default 0.5)")

    dep = command("depreciation", "value of a GPU-hour over time; economic vs book depreciation")
    dep.add_argument("--gpu-class", default="H100", help="class whose asset values are shown (default H100)")
    dep.add_argument("--years", default="8", help="horizon in years (default 8)")
    dep.add_argument("--life-years", help="book depreciation life (default from data: 6)")
    model_options(dep)
    dep.set_defaults(func=_depreciation)

    fwd = command("forward", "fair price today of a GPU-hour claim in a future window")
    fwd.add_argument("--gpu-class", required=True, help="A100, H100, H200, B200, ...")
    fwd.add_argument("--months", default="1,3,6,12", help="window starts, months ahead (default 1,3,6,12)")
    fwd.add_argument("--window-months", default="1", help="length of each window in months (default 1)")
    fwd.add_argument("--discount-rate", default="0.10", help="buyer's annual discount rate (default 0.10)")
    fwd.add_argument(
        "--default-hazard", default="0.05", help="provider's annual default hazard (default 0.05)"
    )
    fwd.add_argument("--collateral", default="0", help="collateral per GPU-hour in USD paid on default")
    model_options(fwd)
    fwd.set_defaults(func=_forward)

    be = command("breakeven", "break-even and reserve price per GPU-hour; forward vs spot NPV")
    be.add_argument("--gpu-class", default="H100", help="class for default capex and power (default H100)")
    be.add_argument("--capex", help="USD per GPU, all-in (default from data, an assumption)")
    be.add_argument("--power-kw", help="kW per GPU (default: datasheet TDP)")
    be.add_argument("--electricity", help="USD per kWh (default 0.10, an assumption)")
    be.add_argument("--pue", help="facility PUE (default 1.3)")
    be.add_argument("--other-opex", help="other USD per GPU-hour (default 0.25)")
    be.add_argument("--utilization", help="share of hours sold (default 0.7)")
    be.add_argument("--life-years", help="depreciation life (default 6)")
    be.add_argument("--discount-rate", help="annual cost of capital (default 0.10)")
    be.add_argument("--window-start", default="3", help="forward window start, months ahead (default 3)")
    be.add_argument("--window-end", default="6", help="forward window end, months ahead (default 6)")
    be.add_argument("--hours", default="720", help="GPU-hours sold in the window (default 720)")
    model_options(be)
    be.set_defaults(func=_breakeven)

    au = command("audit", "expected gain of cheating; minimum collateral and audit probability")
    au.add_argument("--price", default="100", help="job price in tokens (default 100)")
    au.add_argument("--compute-cost", default="60", help="provider's honest cost in tokens (default 60)")
    au.add_argument("--collateral", help="provider collateral in tokens (default 5 x price)")
    au.add_argument("--units", default="2000", help="units per job N (default 2000)")
    au.add_argument("--samples", help="units sampled per audit k (default: from --min-cheat-fraction)")
    au.add_argument("--min-cheat-fraction", default="0.05", help="fraction to catch (default 0.05)")
    au.add_argument("--confidence", default="0.99", help="detection confidence for k (default 0.99)")
    au.add_argument("--audit-probability", default="0.25", help="share of jobs audited p (default 0.25)")
    au.add_argument("--fee-bps", default="500", help="protocol fee in bps (default 500)")
    au.add_argument(
        "--accuser-reward-bps", default="2000", help="verifier's share of a slashed collateral (default 2000)"
    )
    au.add_argument("--cheat-rate", default="0.05", help="share of audited jobs that cheat, for verifiers")
    au.set_defaults(func=_audit)

    si = command("simulate", "agent-based market with honest and cheating providers")
    si.add_argument("--seed", default="0", help="random seed (default 0)")
    si.add_argument("--epochs", default="52", help="weeks to simulate (default 52)")
    si.add_argument("--gpu-class", default="H100", help="class traded (default H100)")
    si.add_argument("--audit-probability", help="share of jobs audited (default 0.25)")
    si.add_argument("--collateral-multiple", help="collateral as a multiple of the job price (default 5)")
    si.add_argument("--fee-bps", help="protocol fee in bps (default 500)")
    si.set_defaults(func=_simulate)


# -- parsing ---------------------------------------------------------------------------------------


def _num(name: str, text: str | None, *, low: float | None = None, high: float | None = None) -> float:
    """A finite float from the command line, within [low, high]; else a one-line ParameterError."""
    if text is None:
        raise ParameterError(name, "missing")
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(name, f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ParameterError(name, f"must be finite, got {text!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ParameterError(name, f"must be in [{low}, {high}], got {text}")
    return value


def _int(name: str, text: str, *, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ParameterError(name, f"not an integer: {text!r}") from None
    if not low <= value <= high:
        raise ParameterError(name, f"must be in [{low}, {high}], got {value}")
    return value


def _opt(overrides: dict[str, Any], key: str, name: str, text: str | None, **bounds: float) -> None:
    if text is not None:
        overrides[key] = _num(name, text, **bounds)


def _model(args: argparse.Namespace) -> DepreciationModel:
    overrides: dict[str, Any] = {"mode": args.mode}
    _opt(overrides, "step", "--step", args.step, low=1, high=100)
    _opt(overrides, "cadence_years", "--cadence", args.cadence, low=0.01, high=50)
    _opt(overrides, "years_to_next_release", "--next-release", args.next_release, low=0, high=50)
    return DepreciationModel.defaults(**overrides)


def _tokens(name: str, text: str) -> int:
    _num(name, text, low=0, high=1e30)
    try:
        return tokens_to_units(text)
    except ParameterError as exc:
        raise ParameterError(name, str(exc)) from None


def _plot_note(path: Path | None) -> None:
    if path is not None:
        print(f"plot: {path}")


# -- handlers --------------------------------------------------------------------------------------


def _depreciation(args: argparse.Namespace) -> int:
    md = load_market_data()
    model = _model(args)
    focus = md.gpu_class(args.gpu_class)
    horizon = _num("--years", args.years, low=0.25, high=50)
    life = (
        _num("--life-years", args.life_years, low=0.5, high=50)
        if args.life_years is not None
        else md.market.depreciation_life_years.value
    )
    costs = OperatingCosts.defaults()
    curve = depreciation_curve(focus, model=model, costs=costs, life_years=life, horizon_years=horizon)
    classes = {
        name: {
            "spot_usd_per_hour": g.spot_usd_per_hour.value,
            "spot_source": g.spot_usd_per_hour.source,
            "spot_is_derived": g.spot_usd_per_hour.derived,
            "usd_per_tflop_hour": g.usd_per_tflop_hour,
            "economic_life_years": economic_life_years(g, model=model, costs=costs),
            "economic_value_usd": economic_value(g, 0.0, model=model, costs=costs),
            "capex_usd": g.capex_usd.value,
            "capex_is_assumption": g.capex_usd.assumption,
        }
        for name, g in sorted(md.classes.items())
    }
    plot = None
    if args.plot:
        from tokenomics.plots import plot_depreciation  # matplotlib loads only when drawing

        plot = plot_depreciation(
            Path(args.plot),
            classes=list(md.classes.values()),
            model=model,
            horizon_years=horizon,
            focus=focus,
            curve=curve,
            life_years=life,
        )
    if args.json:
        emit_json(
            {
                "model": {
                    "mode": model.mode,
                    "cadence_years": model.cadence_years,
                    "step": model.step,
                    "annual_decline": model.annual_decline,
                },
                "gpu_class": focus.name,
                "life_years": life,
                "classes": classes,
                "curve": [vars(p) for p in curve],
                "plot": str(plot) if plot else None,
            }
        )
        return 0
    print(
        f"model: {model.mode}, x{model.step:g} throughput per dollar every {model.cadence_years:g} y "
        f"-> {100 * model.annual_decline:.1f} % value lost a year"
    )
    rows = [
        [
            n,
            f"{c['spot_usd_per_hour']:.2f}",
            f"{model.spot(md.classes[n], 1.0):.2f}",
            f"{c['economic_life_years']:.1f}",
            f"{c['economic_value_usd']:,.0f}",
            f"{c['capex_usd']:,.0f}",
        ]
        for n, c in classes.items()
    ]
    print(
        table(
            ["class", "USD/h now", "USD/h in 1 y", "economic life y", "economic value", "capex (assumed)"],
            rows,
        )
    )
    print(f"\n{focus.name}: value of one GPU (USD); book life {life:g} y")
    step = max(1, len(curve) // 9)
    print(
        table(
            ["years", "USD/h", "economic", "straight-line", "double-declining"],
            [
                [
                    f"{p.years:.2f}",
                    f"{p.spot_usd_per_hour:.2f}",
                    f"{p.economic_value_usd:,.0f}",
                    f"{p.straight_line_usd:,.0f}",
                    f"{p.declining_balance_usd:,.0f}",
                ]
                for p in curve[::step]
            ],
        )
    )
    _plot_note(plot or None)
    return 0


def _forward(args: argparse.Namespace) -> int:
    gpu = load_market_data().gpu_class(args.gpu_class)
    months = parse_months(args.months)
    terms = ForwardTerms(
        discount_rate=_num("--discount-rate", args.discount_rate, low=0, high=10),
        default_hazard=_num("--default-hazard", args.default_hazard, low=0, high=100),
        collateral_usd_per_hour=_num("--collateral", args.collateral, low=0, high=1e9),
    )
    window = _num("--window-months", args.window_months, low=0.01, high=120)
    model = _model(args)
    curve = forward_curve(gpu, months, model=model, terms=terms, window_months=window)
    plot = None
    if args.plot:
        from tokenomics.plots import plot_forward  # matplotlib loads only when drawing

        plot = plot_forward(Path(args.plot), gpu=gpu, curve=curve)
    if args.json:
        emit_json(
            {
                "gpu_class": gpu.name,
                "spot_usd_per_hour": gpu.spot_usd_per_hour.value,
                "spot_source": gpu.spot_usd_per_hour.source,
                "window_months": window,
                "terms": vars(terms),
                "model": {"mode": model.mode, "cadence_years": model.cadence_years, "step": model.step},
                "curve": [
                    {"months_ahead": p.months_ahead, "price": p.price, "spot_at_start": p.spot_at_start}
                    for p in curve
                ],
                "plot": str(plot) if plot else None,
            }
        )
        return 0
    print(f"{gpu.name}: spot {gpu.spot_usd_per_hour.value:.2f} USD/h ({gpu.spot_usd_per_hour.source})")
    print(
        table(
            ["months ahead", "forward USD/h", "model spot USD/h"],
            [[f"{p.months_ahead:g}", f"{p.price:.4f}", f"{p.spot_at_start:.4f}"] for p in curve],
        )
    )
    _plot_note(plot or None)
    return 0


def _breakeven(args: argparse.Namespace) -> int:
    gpu = load_market_data().gpu_class(args.gpu_class)
    cost_over: dict[str, Any] = {}
    _opt(cost_over, "electricity_usd_per_kwh", "--electricity", args.electricity, low=0, high=100)
    _opt(cost_over, "pue", "--pue", args.pue, low=1, high=10)
    _opt(cost_over, "other_opex_usd_per_hour", "--other-opex", args.other_opex, low=0, high=1e6)
    _opt(cost_over, "utilization", "--utilization", args.utilization, low=0.001, high=1)
    _opt(cost_over, "discount_rate", "--discount-rate", args.discount_rate, low=0, high=10)
    costs = OperatingCosts.defaults(**cost_over)
    term_over: dict[str, Any] = {}
    _opt(term_over, "capex_usd", "--capex", args.capex, low=0, high=1e9)
    _opt(term_over, "power_kw", "--power-kw", args.power_kw, low=0, high=1000)
    _opt(term_over, "life_years", "--life-years", args.life_years, low=0.1, high=50)
    terms = ProviderTerms.for_class(gpu, costs=costs, **term_over)
    start = _num("--window-start", args.window_start, low=0, high=480)
    end = _num("--window-end", args.window_end, low=0, high=480)
    if end <= start:
        raise ParameterError("--window-end", f"must be after --window-start ({end} <= {start})")
    hours = _num("--hours", args.hours, low=1, high=1e9)
    fvs = forward_vs_spot(
        gpu, terms=terms, start_years=start / 12, end_years=end / 12, hours=hours, model=_model(args)
    )
    grid = [(u / 100, terms.break_even_usd_per_hour(u / 100)) for u in range(10, 101, 5)]
    plot = None
    if args.plot:
        from tokenomics.plots import plot_breakeven  # matplotlib loads only when drawing

        plot = plot_breakeven(
            Path(args.plot),
            gpu=gpu,
            points=grid,
            spot_usd=gpu.spot_usd_per_hour.value,
            reserve_usd=terms.reserve_usd_per_hour,
        )
    out = {
        "gpu_class": gpu.name,
        "inputs": {
            "capex_usd": terms.capex_usd,
            "power_kw": terms.power_kw,
            "life_years": terms.life_years,
            **vars(costs),
        },
        "marginal_usd_per_hour": terms.marginal_usd_per_hour,
        "reserve_usd_per_hour": terms.reserve_usd_per_hour,
        "break_even_usd_per_hour": terms.break_even_usd_per_hour(),
        "spot_usd_per_hour": gpu.spot_usd_per_hour.value,
        "forward_vs_spot": {"window_start_months": start, "window_end_months": end, **vars(fvs)},
        "plot": str(plot) if plot else None,
    }
    if args.json:
        emit_json(out)
        return 0
    print(
        f"{gpu.name}: capex {terms.capex_usd:,.0f} USD, {terms.power_kw:g} kW, life {terms.life_years:g} y, "
        f"utilization {costs.utilization:g}, cost of capital {costs.discount_rate:g}"
    )
    print(
        table(
            ["price", "USD per GPU-hour"],
            [
                ["marginal (cash) cost", f"{terms.marginal_usd_per_hour:.3f}"],
                ["reserve (100 % utilized)", f"{terms.reserve_usd_per_hour:.3f}"],
                [f"break-even at {costs.utilization:g}", f"{terms.break_even_usd_per_hour():.3f}"],
                ["spot today", f"{gpu.spot_usd_per_hour.value:.3f}"],
            ],
        )
    )
    print(
        f"\nsell {hours:g} h of months {start:g}-{end:g} forward at {fvs.forward_price_usd:.3f}: "
        f"NPV {fvs.npv_forward_usd:,.2f} USD vs waiting for spot {fvs.npv_spot_usd:,.2f} USD "
        f"(advantage {fvs.advantage_usd:+,.2f})"
    )
    _plot_note(plot or None)
    return 0


def _audit(args: argparse.Namespace) -> int:
    price = _tokens("--price", args.price)
    if price == 0:
        raise ParameterError("--price", "must be > 0")
    cost = _tokens("--compute-cost", args.compute_cost)
    collateral = _tokens("--collateral", args.collateral) if args.collateral is not None else 5 * price
    n_units = _int("--units", args.units, low=1, high=10**9)
    if args.samples is not None:
        k = _int("--samples", args.samples, low=1, high=n_units)
    else:
        try:
            k = plan_samples(
                n_units=n_units, min_cheat_fraction=args.min_cheat_fraction, confidence=args.confidence
            ).k
        except InvalidArgument as exc:
            raise ParameterError("audit plan", str(exc)) from None
    p = _num("--audit-probability", args.audit_probability, low=0, high=1)
    terms = AuditTerms(
        price=price,
        compute_cost=cost,
        collateral=collateral,
        n_units=n_units,
        samples=k,
        audit_probability_bps=round(p * BPS),
        fee_bps=_int("--fee-bps", args.fee_bps, low=0, high=BPS),
        accuser_reward_bps=_int("--accuser-reward-bps", args.accuser_reward_bps, low=0, high=BPS),
    )
    cheat_rate = _num("--cheat-rate", args.cheat_rate, low=0, high=1)
    rows = []
    for f in _AUDIT_FRACTIONS:
        b = n_bad_for_fraction(f, n_units)
        rows.append(
            {
                "cheat_fraction": float(f),
                "n_bad": b,
                "detection": detection(n_units, b, k),
                "expected_gain": round(expected_gain(terms, b)),
                "expected_profit": round(expected_profit(terms, b)),
                "profitable": expected_gain(terms, b) > 0,
            }
        )
    worst = worst_cheat(terms)
    s_min = min_collateral(terms)
    p_min = min_audit_probability_bps(terms)
    ve = verifier_economics(terms, cheat_rate=cheat_rate)
    title = f"cheating: p={p:g}, k={k} of {n_units}, collateral {units_to_tokens(collateral)}"
    plot = None
    if args.plot:
        from tokenomics.plots import plot_audit  # matplotlib loads only when drawing

        plot = plot_audit(Path(args.plot), rows=rows, title=title)
    out = {
        "terms": {f: getattr(terms, f) for f in terms.__dataclass_fields__},
        "cheats": rows,
        "worst_cheat": {"n_bad": worst.n_bad, "expected_gain": round(worst.gain)},
        "cheating_unprofitable": worst.gain < 0,
        "min_collateral": s_min,
        "min_collateral_tokens": units_to_tokens(s_min) if s_min is not None else None,
        "min_audit_probability_bps": p_min,
        "verifier": {**vars(ve), "cheat_rate": cheat_rate},
        "plot": str(plot) if plot else None,
    }
    if args.json:
        emit_json(out)
        return 0
    print(
        f"job: price {args.price}, honest cost {args.compute_cost}, collateral {units_to_tokens(collateral)} "
        f"tokens; audited with p={p:g}, k={k} of {n_units} units"
    )
    print(
        table(
            ["cheat fraction", "detection", "gain vs honest", "profit/job", "pays?"],
            [
                [
                    f"{r['cheat_fraction']:g}",
                    f"{r['detection']:.4f}",
                    f"{r['expected_gain'] / UNIT:.4f}",
                    f"{r['expected_profit'] / UNIT:.4f}",
                    "yes" if r["profitable"] else "no",
                ]
                for r in rows
            ],
        )
    )
    print(f"\nevery cheating strategy unprofitable: {'yes' if worst.gain < 0 else 'NO'}")
    print(
        f"minimum collateral: {out['min_collateral_tokens']} tokens; minimum audit probability: "
        f"{'impossible' if p_min is None else f'{p_min / BPS:.4f}'}"
    )
    rate = ve.min_cheat_rate_for_diligence
    print(
        f"verifier: audit costs {units_to_tokens(ve.audit_cost)}, earns fee {units_to_tokens(ve.fee)} or "
        f"slash share {units_to_tokens(ve.slash_reward)}; expected profit per audit "
        f"{ve.honest_expected_profit / UNIT:.4f} tokens at cheat rate {cheat_rate:g}; diligence beats "
        f"rubber-stamping above a cheat rate of {'never' if rate is None else f'{rate:.4f}'}"
    )
    _plot_note(plot or None)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    over: dict[str, Any] = {}
    if args.audit_probability is not None:
        over["audit_probability_bps"] = round(
            _num("--audit-probability", args.audit_probability, low=0, high=1) * BPS
        )
    if args.collateral_multiple is not None:
        over["collateral_bps"] = round(
            _num("--collateral-multiple", args.collateral_multiple, low=0, high=100) * BPS
        )
    if args.fee_bps is not None:
        over["fee_bps"] = _int("--fee-bps", args.fee_bps, low=0, high=BPS)
    params = SimulationParams(
        seed=_int("--seed", args.seed, low=0, high=2**63),
        epochs=_int("--epochs", args.epochs, low=1, high=1000),
        gpu_class=load_market_data().gpu_class(args.gpu_class).name,
        **over,
    )
    report = run_simulation(params)
    plot = None
    if args.plot:
        from tokenomics.plots import plot_simulation  # matplotlib loads only when drawing

        plot = plot_simulation(Path(args.plot), report)
    report["plot"] = str(plot) if plot else None
    if args.json:
        emit_json(report)
        return 0
    epochs = report["epochs"]
    mean_util = sum(e["utilization"] for e in epochs) / len(epochs)
    print(
        f"{params.gpu_class}, {params.epochs} epochs of {params.epoch_hours} h, seed {params.seed}: price "
        f"{epochs[0]['price_usd']:.2f} -> {epochs[-1]['price_usd']:.2f} USD/h, "
        f"mean utilization {mean_util:.2f}; "
        f"audits p={params.audit_probability_bps / BPS:g}, k={report['audit']['samples']}, "
        f"collateral {params.collateral_bps / BPS:g}x price"
    )
    print(
        table(
            ["strategy", "providers", "jobs", "audited", "caught", "profit (tokens)"],
            [
                [n, s["providers"], s["jobs"], s["audited"], s["caught"], f"{int(s['profit']) / UNIT:,.2f}"]
                for n, s in report["strategies"].items()
            ],
        )
    )
    v = report["verifiers"]
    print(f"verifiers: {v['audits']} audits, profit {int(v['profit']) / UNIT:,.2f} tokens")
    _plot_note(plot or None)
    return 0
