"""Persistence of desired and observed state (SQLAlchemy 2 async, Alembic migrations).

`Store` owns the engine; `Store.read()` / `Store.write()` open one transaction and yield a
`Tx` whose repositories (`tx.services`, `tx.models`, …) speak domain objects only: ORM rows
never leave this package (`mapping.py` converts).
"""

from modelport.store.engine import Store
from modelport.store.tx import Tx

__all__ = ["Store", "Tx"]
