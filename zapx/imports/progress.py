"""An import's progress as people read it: the percentage of the file read and rows a second.

One computation for the two places that show it: ``zapx import``'s bar on the terminal and
``GET /imports/{id}``.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Progress:
    #: Share of the file read, 0-100 (one decimal).
    percent: float
    #: Source rows read per second of the import's run so far (whole rows).
    rows_per_s: float


def progress_of(rows: int, fraction: float, elapsed_s: float) -> Progress:
    """``rows`` read in ``elapsed_s`` seconds, ``fraction`` (0..1) of the file behind them."""
    share = min(max(fraction, 0.0), 1.0)
    return Progress(round(share * 100, 1), round(rows / max(elapsed_s, 1e-6)))
