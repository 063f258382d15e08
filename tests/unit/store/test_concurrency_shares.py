"""The lease protocol of concurrency shares (store/postgres/nodes.py: ``next_share`` applied at
each node's beat, targets from ``invoke/concurrency.allocate``), simulated: any order of beats,
any demands and any invocations in flight, on a cluster whose nodes all hold leases. What must
hold at every moment: the held shares add up to at most the limit, and no node admits past its
share (so what runs in all never exceeds the limit)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.invoke.concurrency import allocate, even_share, minimum_share
from cumulo.store.postgres.nodes import next_share


@settings(max_examples=300, deadline=None)
@given(limit=st.integers(0, 60), n=st.integers(1, 5), data=st.data())
def test_the_held_shares_never_exceed_the_limit_whatever_the_order_of_beats(limit: int, n: int,
                                                                            data: st.DataObject) -> None:
    names = [f"n{i}" for i in range(n)]
    share = {k: even_share(limit, i, n) for i, k in enumerate(names)}      # before any lease: even parts
    held = dict(share)
    running = {k: 0 for k in names}
    demand = {k: 0 for k in names}
    floor = minimum_share(limit, n)
    for _ in range(data.draw(st.integers(1, 40), label="beats")):
        me = data.draw(st.sampled_from(names), label="beat")
        # between beats: invocations end, and new ones are admitted only below the share
        running[me] = data.draw(st.integers(0, max(running[me], share[me])), label="running")
        demand[me] = data.draw(st.integers(0, limit + 5), label="demand")
        target = allocate(limit, demand)[me]
        room = limit - sum(v for k, v in held.items() if k != me)
        share[me], held[me] = next_share(target, room, floor, running[me])
        assert sum(held.values()) <= limit, (held, limit)
        assert sum(running.values()) <= limit, running
        assert all(held[k] >= min(share[k], running[k]) for k in names)
        assert share[me] >= min(floor, target)


def test_a_node_takes_only_the_room_left_but_keeps_its_minimum() -> None:
    assert next_share(target=9, room=4, floor=1, in_flight=2) == (4, 4)      # grows into the room only
    assert next_share(target=2, room=9, floor=1, in_flight=5) == (2, 5)      # lowered; 5 still run
    assert next_share(target=3, room=0, floor=1, in_flight=0) == (1, 1)      # a joiner: its minimum at once
