"""The runtime outlives the thread that started it (the zygote's parent-death signal follows the
creating *thread* on Linux, so it must not be whichever short-lived thread invoked first)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from cumulo import Cumulo


def test_environments_survive_the_first_invokers_thread(cumulo: Cumulo, deploy: Callable[..., str]) -> None:
    fn = deploy("def handler(event, context):\n    return context.aws_request_id\n")
    first: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: first.setdefault("result", cumulo.invoke(fn)))
    worker.start()
    worker.join()
    assert first["result"].cold_start
    time.sleep(0.5)                          # were the zygote tied to that thread, it would be dead by now
    again = cumulo.invoke(fn)
    assert again.function_error is None
    assert not again.cold_start              # the warm environment is still there
