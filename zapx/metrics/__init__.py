"""Prometheus metrics of every zapx process (docs/METRICS.md).

Writers call the helpers (:func:`message`, :func:`step`, :func:`delay` ...) or the metric
objects; each process starts its sampler once (:func:`start_process_metrics`); the API serves
:func:`exposition` with a :class:`ScrapeCollector`. With ``PROMETHEUS_MULTIPROC_DIR`` set
(``deploy/supervisord.conf``) every process writes into that directory and the page sums them;
without it the process's default registry is used (tests, a single process).
"""

import os

# Before prometheus_client is imported: it picks its value class (memory-mapped files or
# plain floats) from the variable at import, and writes into the directory from the first
# metric defined. A directory set but missing (supervisord started without scripts/run) is
# made rather than failing every process at import.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from zapx.metrics import _definitions as metrics  # noqa: E402
from zapx.metrics._exposition import CONTENT_TYPE, exposition, merged  # noqa: E402
from zapx.metrics._process import (  # noqa: E402
    KINDS,
    mark_process_dead,
    multiprocess_dir,
    prune_dead,
    sample_process,
    start_process_metrics,
    stop_process_metrics,
)
from zapx.metrics._record import (  # noqa: E402
    batch,
    code_label,
    delay,
    delay_kind,
    message,
    step,
    timed_step,
)
from zapx.metrics._scrape import QUEUES, ScrapeCollector  # noqa: E402

#: Every label name zapx's metrics use (``le``: a histogram's buckets). None takes a tenant's
#: or a campaign's id; the tests check the page against this set.
LABELS = frozenset(
    {"provider", "outcome", "error_code", "queue", "step", "kind", "state", "status"}
    | {"namespace", "result", "source", "rule", "le"}
)

__all__ = [
    "CONTENT_TYPE",
    "KINDS",
    "LABELS",
    "QUEUES",
    "ScrapeCollector",
    "batch",
    "code_label",
    "delay",
    "delay_kind",
    "exposition",
    "mark_process_dead",
    "merged",
    "message",
    "metrics",
    "multiprocess_dir",
    "prune_dead",
    "sample_process",
    "start_process_metrics",
    "step",
    "stop_process_metrics",
    "timed_step",
]
