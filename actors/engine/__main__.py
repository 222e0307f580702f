"""``python -m actors.engine`` (what ``zapx engine`` runs)."""

import sys

from actors.engine.main import run
from zapx.config import load_config
from zapx.errors import ConfigError
from zapx.startup import require_noeviction

try:
    config = load_config()
except ConfigError as exc:
    print(f"zapx engine: {exc.message}", file=sys.stderr)
    sys.exit(2)
require_noeviction(config.redis_url, "engine")
sys.exit(run(config))
