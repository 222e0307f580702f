"""One send schedule per connection, in Redis: pacing, provider cap, pair and daily limits and
the four rate-limit kinds, checked and recorded by one script call right before a request leaves.

See :mod:`zapx.schedule._gate` for the rules and their arithmetic, docs/ENGINE.md for the
guarantees.
"""

from zapx.schedule._gate import SendGate
from zapx.schedule._types import (
    KINDS,
    GateState,
    Grant,
    GrantMany,
    Progress,
    Rule,
    Settings,
    Stopped,
    Wait,
    backoff_s,
)

__all__ = [
    "KINDS",
    "GateState",
    "Grant",
    "GrantMany",
    "Progress",
    "Rule",
    "SendGate",
    "Settings",
    "Stopped",
    "Wait",
    "backoff_s",
]
