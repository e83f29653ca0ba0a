"""The reconcile loop: keeps every deployment's replicas as its spec says.

`plan.py` decides (pure), `apply.py` does, `loop.py` runs passes on a timer and on wake-ups,
`recovery.py` adopts live replicas after a restart.
"""
