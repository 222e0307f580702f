"""The engine: a Pykka actor system fed by the Dramatiq ``engine`` queue (``zapx engine``)."""
