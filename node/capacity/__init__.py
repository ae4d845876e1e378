"""Capacity: what a provider's device really does, measured (``probe``) and checked by peers
(``challenge``), and the per-peer verified figure consumers rank offers by (``verified``).

Importing this package does not import torch; ``probe`` and ``challenge`` do.
"""
