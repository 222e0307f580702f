"""``python -m actors.engine`` (what ``zapx engine`` runs)."""

import sys

from actors.engine.main import run
from zapx.config import load_config
from zapx.errors import ConfigError

try:
    config = load_config()
except ConfigError as exc:
    print(f"zapx engine: {exc.message}", file=sys.stderr)
    sys.exit(2)
sys.exit(run(config))
