"""``Executions``' contract, for every backend (``conftest.BACKENDS``): Standard executions, each
transition one durable step with its history, timers and task tokens."""

from __future__ import annotations

import json

from cumulo.store.ports import MessageStore

T = 1_700_000_000_000
MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:m"


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:000000000000:execution:m:{name}"


def test_an_execution_is_inserted_once_and_read_back(messages: MessageStore) -> None:
    x = messages.executions
    assert x.get_execution(arn("a")) is None
    assert x.insert_execution(arn("a"), MACHINE, "a", T, {"input": {"n": 1}})
    assert not x.insert_execution(arn("a"), MACHINE, "other", T + 1, {"input": {}})
    assert x.get_execution(arn("a")) == ("RUNNING", "a", T, None, {"input": {"n": 1}})


def test_executions_are_listed_newest_first_and_by_status(messages: MessageStore) -> None:
    x = messages.executions
    x.insert_execution(arn("a"), MACHINE, "a", T, {})
    x.insert_execution(arn("c"), MACHINE, "c", T + 1, {})
    x.insert_execution(arn("b"), MACHINE, "b", T + 1, {})
    x.insert_execution(arn("z"), MACHINE + "-other", "z", T + 2, {})
    x.save_step(arn("a"), "SUCCEEDED", T + 5, {"output": 1}, [], [], [], [])
    assert x.list_executions(MACHINE) == [(arn("b"), "b", "RUNNING", T + 1, None),
                                          (arn("c"), "c", "RUNNING", T + 1, None),
                                          (arn("a"), "a", "SUCCEEDED", T, T + 5)]
    assert [r[0] for r in x.list_executions(MACHINE, "SUCCEEDED")] == [arn("a")]
    assert sorted(x.running_executions()) == [arn("b"), arn("c"), arn("z")]
    assert x.get_execution(arn("a")) == ("SUCCEEDED", "a", T, T + 5, {"output": 1})


def test_a_step_writes_state_history_timers_and_tokens_at_once(messages: MessageStore) -> None:
    x = messages.executions
    x.insert_execution(arn("a"), MACHINE, "a", T, {})
    x.insert_execution(arn("b"), MACHINE, "b", T, {})
    events = [(i, json.dumps({"id": i})) for i in (1, 2, 3)]
    x.save_step(arn("a"), "RUNNING", None, {"step": 1}, events, [("wait", T + 100), ("timeout", T + 50)], [],
                [("tok-1", "task-1")])
    x.save_step(arn("b"), "RUNNING", None, {}, [], [("w", T + 70)], [], [("tok-b", "t")])
    assert x.get_execution(arn("a")) == ("RUNNING", "a", T, None, {"step": 1})
    assert x.history(arn("a")) == [e for _, e in events]
    assert x.next_timer_ms() == T + 50
    assert x.due_timers(T + 70) == [(arn("a"), "timeout"), (arn("b"), "w")]
    assert x.task_token("tok-1") == (arn("a"), "task-1") and x.task_token("nope") is None
    x.save_step(arn("a"), "RUNNING", None, {"step": 2}, [(4, "{}")], [("later", T + 200)], ["timeout"], [])
    assert x.due_timers(T + 100) == [(arn("b"), "w"), (arn("a"), "wait")]
    x.delete_timer(arn("a"), "wait")
    x.delete_task_token("tok-b")
    assert x.due_timers(T + 150) == [(arn("b"), "w")] and x.task_token("tok-b") is None
    x.save_step(arn("a"), "FAILED", T + 300, {"step": 3}, [], [], [], [])   # done: its timers and tokens go
    assert x.due_timers(T + 1_000) == [(arn("b"), "w")] and x.task_token("tok-1") is None
    assert x.history(arn("a"), 3) == ["{}"]


def test_history_pages_forward_and_backward(messages: MessageStore) -> None:
    x = messages.executions
    x.insert_execution(arn("a"), MACHINE, "a", T, {})
    x.save_step(arn("a"), "RUNNING", None, {}, [(i, f"e{i}") for i in range(1, 8)], [], [], [])
    assert x.history(arn("a"), 0, 3) == ["e1", "e2", "e3"]
    assert x.history(arn("a"), 3, 3) == ["e4", "e5", "e6"]
    assert x.history(arn("a"), 0, 3, reverse=True) == ["e7", "e6", "e5"]
    assert x.history(arn("a"), 5, 10, reverse=True) == ["e4", "e3", "e2", "e1"]
    assert x.history(arn("other")) == []


def test_due_timers_come_soonest_first_at_most_500(messages: MessageStore) -> None:
    x = messages.executions
    x.insert_execution(arn("a"), MACHINE, "a", T, {})
    assert x.next_timer_ms() is None and x.due_timers(T) == []
    x.save_step(arn("a"), "RUNNING", None, {}, [], [(f"t{i}", T + 600 - i) for i in range(600)], [], [])
    due = x.due_timers(T + 1_000)
    assert len(due) == 500 and due[0] == (arn("a"), "t599") and due[-1] == (arn("a"), "t100")


def test_redriven_executions_are_found_by_their_count(messages: MessageStore) -> None:
    x = messages.executions
    for name in ("a", "b", "c"):
        x.insert_execution(arn(name), MACHINE, name, T, {"input": "{}"})
    x.insert_execution(arn("z"), MACHINE + "-other", "z", T, {})
    x.save_step(arn("a"), "RUNNING", None, {"redriveCount": 2, "redriveDate": 1700000000.5}, [], [], [], [])
    x.save_step(arn("b"), "FAILED", T + 1, {"redriveCount": 0, "input": "{\"redriveCount\": 9}"}, [], [], [], [])
    x.save_step(arn("z"), "RUNNING", None, {"redriveCount": 1, "redriveDate": 1.0}, [], [], [], [])
    assert x.redrives(MACHINE) == {arn("a"): (2, 1700000000.5)}
    assert x.redrives(MACHINE + "-other") == {arn("z"): (1, 1.0)}


def test_executions_are_listed_a_page_at_a_time_after_a_position(messages: MessageStore) -> None:
    x = messages.executions
    for i, name in enumerate("abcdefg"):
        x.insert_execution(arn(name), MACHINE, name, T + i // 2, {})     # pairs started in the same ms
    x.save_step(arn("c"), "SUCCEEDED", T + 5, {}, [], [], [], [])
    x.save_step(arn("f"), "SUCCEEDED", T + 5, {}, [], [], [], [])
    every = x.list_executions(MACHINE)
    assert [r[0] for r in every] == [arn(n) for n in "gefcdab"]
    pages, after = [], None
    while True:
        page = x.list_executions(MACHINE, after=after, limit=2)
        if not page:
            break
        pages.append([r[0] for r in page])
        after = (page[-1][3], page[-1][0])
    assert pages == [[arn("g"), arn("e")], [arn("f"), arn("c")], [arn("d"), arn("a")], [arn("b")]]
    succeeded = x.list_executions(MACHINE, "SUCCEEDED", limit=1)
    assert succeeded == [(arn("f"), "f", "SUCCEEDED", T + 2, T + 5)]
    assert x.list_executions(MACHINE, "SUCCEEDED", after=(T + 2, arn("f"))) == [(arn("c"), "c", "SUCCEEDED", T + 1, T + 5)]
    x.save_step(arn("a"), "RUNNING", None, {"redriveCount": 1, "redriveDate": 7.0}, [], [], [], [])
    x.save_step(arn("b"), "RUNNING", None, {"redriveCount": 2, "redriveDate": 8.0}, [], [], [], [])
    assert x.redrives(MACHINE) == {arn("a"): (1, 7.0), arn("b"): (2, 8.0)}
    assert x.redrives(MACHINE, [arn("b"), arn("c")]) == {arn("b"): (2, 8.0)}
    assert x.redrives(MACHINE, []) == {}


def test_a_step_may_bring_its_document_as_json_text(messages: MessageStore) -> None:
    """The engine encodes a step's document itself (its snapshot straight from the live frames):
    the text is stored as it is and read back as the document."""
    x = messages.executions
    x.insert_execution(arn("a"), MACHINE, "a", T, {"input": "{}"})
    x.save_step(arn("a"), "RUNNING", None, '{"input": "{}", "snapshot": {"frames": [1, 2]}}', [], [], [], [])
    assert x.get_execution(arn("a")) == ("RUNNING", "a", T, None, {"input": "{}", "snapshot": {"frames": [1, 2]}})
