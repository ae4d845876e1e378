"""The economics: depreciation, forward prices, provider break-even, audit incentives, simulation.

A pure library: no network, no chain. Imports only ``verifier`` (the audit economics use its detection math).
"""
