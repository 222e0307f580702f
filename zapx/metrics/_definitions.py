"""The metrics every zapx process writes, with the names docs/METRICS.md lists.

Under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``deploy/supervisord.conf``) prometheus_client keeps
each process's values in memory-mapped files in that directory, which the API sums when
``/metrics`` is served: an observation is a write into this process's mapping, no Redis or
database round trip. Without the variable (tests, a single process) the same objects live in
the default registry. The variable must be set before ``prometheus_client`` is imported, which
:mod:`zapx.metrics` makes sure of by importing it first thing.

Labels take values from small fixed sets (providers, outcomes, kinds, queues, steps, a
provider's error code): never a company, campaign, connection or contact id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: Seconds: one provider call (a keep-alive POST: a few ms to the read timeout, 15 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
#: Seconds: a Dramatiq message, a batch of up to 50 paced sends (up to its 600 s time limit).
BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Seconds: one render, claim or record (microseconds to a slow statement).
STEP_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
#: Seconds: a pacing or rate-limit wait (a jittered gap of a second to a daily cap's hours).
DELAY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)

# --- delivery (worker processes) ---------------------------------------------------------------
messages = Counter(
    "zapx_messages",
    "Provider calls by answer: outcome sent|failed|unknown|retried; error_code the provider's "
    "code (Cloud API code, http_<status>, timeout, connect, broken, refused) or empty.",
    ["provider", "outcome", "error_code"],
)
send_latency = Histogram(
    "zapx_send_latency_seconds",
    "Seconds one provider call took (request to answer or transport error).",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
batch_duration = Histogram(
    "zapx_batch_duration_seconds",
    "Seconds one claimed batch took, claim to record (pacing sleeps included).",
    ["queue"],
    buckets=BATCH_BUCKETS,
)
batch_step = Histogram(
    "zapx_batch_step_seconds",
    "Seconds of one step of a batch: render (one message's text), claim and record (one "
    "statement each per batch).",
    ["step"],
    buckets=STEP_BUCKETS,
)
pacing_delay = Histogram(
    "zapx_pacing_delay_seconds",
    "Seconds a send waited: kind interval (gap, long pause, planned slot, busy token), "
    "backoff (throttled), whatsapp (provider cap, daily cap or the connection's rate limit), "
    "contact (recipient pair or rate limit), campaign, global (rate limits).",
    ["kind"],
    buckets=DELAY_BUCKETS,
)
rate_limited = Counter(
    "zapx_rate_limited",
    "Send gate answers refused by a company rate limit, by kind.",
    ["kind"],
)

# --- Dramatiq (worker and engine processes) ----------------------------------------------------
dramatiq_messages = Counter(
    "zapx_dramatiq_messages",
    "Dramatiq messages processed, by queue and outcome: ok, retried (raised, will run again), "
    "failed (raised, given up); dead counts the messages dead-lettered (failed or skipped).",
    ["queue", "outcome"],
)
dramatiq_duration = Histogram(
    "zapx_dramatiq_message_duration_seconds",
    "Seconds one Dramatiq message took to process.",
    ["queue"],
    buckets=BATCH_BUCKETS,
)

# --- every process, sampled by its own thread (zapx.metrics._process) --------------------------
resident_memory = Gauge(
    "zapx_process_resident_memory_bytes",
    "Resident memory of the live processes of a kind, bytes (summed).",
    ["kind"],
    multiprocess_mode="livesum",
)
cpu_seconds = Counter(
    "zapx_process_cpu_seconds",
    "CPU seconds (user + system) used by the processes of a kind.",
    ["kind"],
)
processes = Gauge(
    "zapx_processes",
    "Live processes of a kind.",
    ["kind"],
    multiprocess_mode="livesum",
)
db_pool = Gauge(
    "zapx_db_pool_connections",
    "PostgreSQL connections of the processes' pools: in_use (held by a unit of work) or idle.",
    ["state"],
    multiprocess_mode="livesum",
)
#: The processes' own postgres/redis breakers; the scrape collector adds whatsapp/campaign.
breakers = Gauge(
    "zapx_breakers",
    "Breakers of a kind (whatsapp, campaign: shared ones; postgres, redis: one per process) in "
    "a state (closed, open, half_open).",
    ["kind", "state"],
    multiprocess_mode="livesum",
)
breaker_open_max = Gauge(
    "zapx_breaker_open_seconds_max",
    "Seconds the longest-open breaker of a kind has not been closed (0: none).",
    ["kind"],
    multiprocess_mode="livemax",
)
