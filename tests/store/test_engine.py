"""`Store`'s translation of a database that cannot be reached: `TemporaryError` (the API's
503 `temporary`), at once, for reads and writes; never the driver's own exception (a 500)."""

from __future__ import annotations

import pytest
from tests.ports import free_port

from modelport.domain.errors import TemporaryError
from modelport.store import Store


async def test_a_database_nobody_listens_for_is_a_temporary_error() -> None:
    store = Store(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    try:
        with pytest.raises(TemporaryError, match="database unavailable") as read:
            async with store.read() as tx:
                await tx.services.all()
        with pytest.raises(TemporaryError, match="database unavailable"):
            async with store.write() as tx:
                await tx.traffic.bump_generation()
        assert isinstance(read.value.__cause__, ConnectionRefusedError)
        assert read.value.delay == 1.0
    finally:
        await store.close()
