"""The actor system: Pykka actors of the engine and Dramatiq actors of the workers.

Import :mod:`actors.broker` before any Dramatiq actor: it configures the broker they bind to.
"""
