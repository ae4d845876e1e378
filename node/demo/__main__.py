"""``python -m node.demo``: see :mod:`node.demo.main`."""

from __future__ import annotations

import sys

from node.demo.main import main

sys.exit(main())
