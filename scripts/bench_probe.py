"""``scripts/bench probe [--quick] [--device D] [--json]``: the capacity probe's figures as tables.

Prints the device (and, without a GPU, why), per-dtype matmul TFLOP/s per size, and the memory and
host<->device bandwidths; then one honest capacity challenge of this machine against its own fp32
figure (achieved / advertised ratio), so the challenge threshold can be judged against real numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from node.capacity.challenge import judge, new_challenge, new_nonce, prepare
from node.capacity.probe import probe
from node.cli.provider import render_probe


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench probe", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick sweep (about 3 s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    result = probe(device=args.device, quick=args.quick, progress=lambda line: print(line, file=sys.stderr))
    advertised = max(1, result.best_gflops("float32"))
    ch = new_challenge(advertised_gflops=advertised, network_allowance_s=0.1)  # ~0.5 s of compute
    device = "cuda" if result.device == "cuda" else "cpu"
    # The two phases of the wire protocol, without the wire: inputs built untimed, then the nonce.
    prepared = prepare(ch, device=device)
    nonce = new_nonce()
    start = time.perf_counter()
    answer = prepared.answer(nonce)
    elapsed = time.perf_counter() - start
    verdict = judge(ch, digest=answer.digest, c=answer.c, elapsed_s=elapsed, nonce=nonce)
    challenge = {"n": ch.n, "advertised_gflops": advertised, "achieved_gflops": verdict.achieved_gflops,
                 "ratio": round(verdict.ratio, 3), "passed": verdict.passed, "reason": verdict.reason}
    if args.json:
        print(json.dumps({"probe": result.to_dict(), "advert_hash": "0x" + result.advert_hash().hex(),
                          "self_challenge": challenge}, sort_keys=True))
        return 0
    print(render_probe(result))
    print()
    print(f"self-challenge n={ch.n} fp32: achieved {challenge['achieved_gflops']} GFLOP/s vs advertised "
          f"{advertised} (ratio {challenge['ratio']}; the timed phase: permutation, matmul, copy, digest): "
          f"{'pass' if challenge['passed'] else 'FAIL ' + str(challenge['reason'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
