"""The proof system: commitments, challenge sampling, tolerant comparison, Freivalds, audit verdicts.

A pure library: no network, no chain, no daemon, and nothing else of this project imported.
"""
