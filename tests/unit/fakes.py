"""Fakes of the ports (``cumulo/ports.py``) for unit tests of services and workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from cumulo.ports import Send, Target


class FakeClock:
    """``ports.Clock`` that moves only when told to (``sleep`` moves it too, at once)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.wall = start
        self.mono = 0.0

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def ms(self) -> int:
        return int(self.wall * 1000)


@dataclass
class DeadLetter:
    queue_arn: str
    payload: str
    attributes: dict[str, str]
    subject: str
    numbers: tuple[str, ...]


@dataclass
class FakeTargets:
    """``ports.Targets`` that records what it is asked to send; ``answer(target, message)`` answers
    each send (or raises, as a failing delivery would)."""

    answer: Callable[[Target, Send], Any] = lambda target, message: None
    sent: list[tuple[Target, Send]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def send(self, target: Target | str, message: Send) -> Any:
        parsed = target if isinstance(target, Target) else Target.parse(target)
        self.sent.append((parsed, message))
        return self.answer(parsed, message)

    def dead_letter(self, queue_arn: str, payload: str, attributes: dict[str, str], subject: str,
                    numbers: tuple[str, ...] = ()) -> None:
        self.dead.append(DeadLetter(queue_arn, payload, attributes, subject, numbers))


class FakeDocuments:
    """``ports.Documents`` in a dict."""

    def __init__(self) -> None:
        self.generation = 0
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}

    def put_document(self, kind: str, doc_id: str, doc: dict[str, Any]) -> None:
        self.docs[(kind, doc_id)] = doc
        self.generation += 1

    def get_document(self, kind: str, doc_id: str) -> dict[str, Any] | None:
        return self.docs.get((kind, doc_id))

    def list_documents(self, kind: str) -> list[dict[str, Any]]:
        return [doc for (k, _), doc in self.docs.items() if k == kind]

    def delete_document(self, kind: str, doc_id: str) -> bool:
        self.generation += 1
        return self.docs.pop((kind, doc_id), None) is not None
