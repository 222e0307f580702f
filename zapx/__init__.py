"""zapx core: configuration, database, domain rules and services shared by every process.

Nothing here imports Falcon or Pykka; arrows point ``api -> actors -> zapx``.
"""

__version__ = "0.1.0"
