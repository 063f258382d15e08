"""Every input that can grow is bounded: hostile intrinsics, JSONata, paths, regexes and payloads
fail the state with a States error (what a user sees: status, error, cause) and never build the
value they describe. Properties run the hostile shapes at sizes far beyond what would fit in memory."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cumulo.stepfunctions.asl import Execution, ExecutionStatus, FakeClock, TaskError, TimerFired, run_to_completion
from cumulo.stepfunctions.asl import jsonata as J
from cumulo.stepfunctions.asl.errors import DATA_LIMIT_EXCEEDED, INTRINSIC_FAILURE, QUERY_EVALUATION_ERROR, StatesFailure
from cumulo.stepfunctions.asl.interfaces import InvokeTask, StartTimer, TaskSucceeded
from cumulo.stepfunctions.asl.interpreter import MAX_LIVE_STATE, MAX_STEP_BYTES
from cumulo.stepfunctions.asl.intrinsics import IntrinsicSyntaxError, evaluate, parse_intrinsic
from cumulo.stepfunctions.asl.limits import MAX_DEPTH, MAX_PAYLOAD, TooLarge, measure
from cumulo.stepfunctions.asl.paths import Path, dumps, parse_path
from cumulo.stepfunctions.asl.regex import REGEX_BUDGET, RegexTooCostly, compile_bounded

from .helpers import LAMBDA, invokes, machine, task, types


class FixedRandom:
    def random(self) -> float:
        return 0.5

    def uuid(self) -> str:
        return "00000000-0000-4000-8000-000000000000"


def intrinsic(text: str, data: Any = None) -> Any:
    def resolve(path: Path) -> Any:
        return path.select(data, {}, {})
    return evaluate(parse_intrinsic(text), resolve, FixedRandom())


def failure(text: str, data: Any = None) -> StatesFailure:
    with pytest.raises(StatesFailure) as info:
        intrinsic(text, data)
    return info.value


def jsonata(source: str, states: Any = None) -> Any:
    return J.evaluate(J.compile_expression("{% " + source + " %}"), "Output", states or {"input": {}}, {}, 0.0,
                      FixedRandom())


def jsonata_failure(source: str, states: Any = None) -> StatesFailure:
    with pytest.raises(StatesFailure) as info:
        jsonata(source, states)
    return info.value


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=5), max_leaves=30)


# ---- measure ---------------------------------------------------------------------------------------

@given(json_values)
def test_measure_never_counts_more_than_the_json_text(value: Any) -> None:
    assert measure(value, 1 << 40) <= len(dumps(value).encode())


@given(json_values, st.integers(0, 400))
def test_measure_refuses_only_what_is_larger_than_the_limit(value: Any, limit: int) -> None:
    try:
        measure(value, limit)
    except TooLarge:
        assert len(dumps(value).encode()) > limit


@given(st.integers(20, 400))
def test_measure_of_a_value_shared_exponentially_stops_at_the_limit(levels: int) -> None:
    value: Any = "x" * 100
    for _ in range(levels):                   # 2**levels copies once written out: never built, never walked
        value = [value, value]
    started = time.process_time()
    with pytest.raises(TooLarge):
        measure(value, MAX_PAYLOAD)
    assert time.process_time() - started < 1.0


def test_measure_refuses_nesting_deeper_than_the_bound_without_recursing() -> None:
    value: Any = []
    for _ in range(50_000):
        value = [value]
    with pytest.raises(TooLarge) as info:
        measure(value, 1 << 40)
    assert info.value.depth and str(MAX_DEPTH) in info.value.reason


# ---- intrinsic functions -----------------------------------------------------------------------------

@given(st.integers(-10 ** 12, 10 ** 12), st.integers(-10 ** 12, 10 ** 12),
       st.integers(-10 ** 6, 10 ** 6).filter(lambda step: step != 0))
@settings(deadline=1000)
def test_array_range_makes_at_most_1000_items_whatever_it_is_asked(start: int, end: int, step: int) -> None:
    expected = range(start, end + (1 if step > 0 else -1), step)
    if len(expected) <= 1000:
        assert intrinsic(f"States.ArrayRange({start}, {end}, {step})") == list(expected)
    else:
        error = failure(f"States.ArrayRange({start}, {end}, {step})")
        assert error.error == INTRINSIC_FAILURE and f"{len(expected)} items, more than 1000" in (error.cause or "")


def test_the_array_range_that_took_the_server_down_fails_at_once() -> None:
    started = time.process_time()
    error = failure("States.ArrayRange(1, 1000000000, 1)")
    assert (error.error, time.process_time() - started < 0.1) == (INTRINSIC_FAILURE, True)
    assert "the range has 1000000000 items, more than 1000" in (error.cause or "")


BOMBS = [
    # (template, argument count): one 'chunk' argument repeated; the result would be count × chunk
    ("States.Array({})", "$.s"),
    ("States.Format('{}', {})", "$.s"),
    ("States.JsonToString(States.Array({}))", "$.s"),
    ("States.ArrayLength(States.Array({}))", "$.o"),
    ("States.Hash(States.Array({}), 'SHA-256')", "$.s"),
]


@given(st.sampled_from(BOMBS), st.integers(1, 400), st.integers(0, 20_000))
@example(BOMBS[-1], 91, 107)   # 9,737 characters of chunks, 10,011 once serialised: over Hash's 10,000
@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_intrinsics_never_return_more_than_the_payload_quota(bomb: tuple[str, str], copies: int, chunk: int) -> None:
    template, argument = bomb
    placeholders = "{}" * copies if template.startswith("States.Format") else None
    args = ", ".join([argument] * copies)
    text = template.format(placeholders, args) if placeholders else template.format(args)
    data = {"s": "x" * chunk, "o": {"k": "y" * chunk}}
    try:
        result = intrinsic(text, data)
    except StatesFailure as exc:
        assert exc.error in (DATA_LIMIT_EXCEEDED, INTRINSIC_FAILURE), exc
        # an intrinsic's own input limit (Hash, Base64: 10,000 characters) counts the argument as
        # serialised, quotes and commas included, not only the chunks
        serialised = len(dumps([data[argument[2:]]] * copies))
        assert serialised > 10_000 or exc.error == DATA_LIMIT_EXCEEDED, (serialised, exc)
        return
    assert len(dumps(result).encode()) <= MAX_PAYLOAD + 64 * copies


@given(st.integers(1, 20_000), st.sampled_from([",", ", ", "x"]))
@settings(deadline=None, max_examples=30)
def test_string_split_and_partition_stay_within_the_quota(count: int, delimiter: str) -> None:
    data = {"s": delimiter.join(["a"] * count), "a": list(range(count))}
    for text in ("States.StringSplit($.s, ',')", "States.ArrayPartition($.a, 1)", "States.ArrayUnique($.a)"):
        try:
            result = intrinsic(text, data)
        except StatesFailure as exc:
            assert exc.error == DATA_LIMIT_EXCEEDED and "maximum number of bytes" in (exc.cause or "")
            continue
        assert len(dumps(result)) <= MAX_PAYLOAD


@pytest.mark.parametrize("depth", [10, 999, 1001, 100_000])
def test_string_to_json_of_deeply_nested_text_fails_cleanly(depth: int) -> None:
    text = "[" * depth + "]" * depth
    if depth < MAX_DEPTH:
        assert dumps(intrinsic("States.StringToJson($.t)", {"t": text})) == text
        return
    error = failure("States.StringToJson($.t)", {"t": text})
    assert error.error in (DATA_LIMIT_EXCEEDED, INTRINSIC_FAILURE)
    assert "nested" in (error.cause or "")


def test_intrinsics_nest_at_most_ten_deep_as_aws_allows() -> None:
    ten = "States.Array(" * 10 + "1" + ")" * 10
    assert json.dumps(intrinsic(ten)) == "[" * 10 + "1" + "]" * 10
    with pytest.raises(IntrinsicSyntaxError, match="nested more than 10 deep"):
        parse_intrinsic("States.Array(" * 11 + "1" + ")" * 11)
    with pytest.raises(IntrinsicSyntaxError):                   # and never a RecursionError
        parse_intrinsic("States.Array(" * 100_000 + ")" * 100_000)


# ---- JSONPath ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["$..*..*..*..*", "$" + "[0,0,0,0,0,0,0,0,0,0]" * 8,
                                    "$.a[?(@ == $..*..*..*)]"])
def test_paths_that_multiply_what_they_select_fail(source: str) -> None:
    data: Any = [1]
    for _ in range(200):                       # a chain: each ``..*`` from it selects every node below again
        data = [data, 2]
    data = {"a": data}
    wide: Any = [0]
    for _ in range(9):                         # index 0 ten times at each of eight levels: 10**8 selections
        wide = [wide]
    path = parse_path(source)
    with pytest.raises(StatesFailure) as info:
        path.select(wide if "[0,0" in source else data)
    assert info.value.error == DATA_LIMIT_EXCEEDED and "selects or visits more than" in (info.value.cause or "")


def test_a_path_on_deep_input_does_not_recurse() -> None:
    data: Any = {"x": 1}
    for _ in range(5000):
        data = {"a": data}
    assert parse_path("$..x").select(data) == [1]


# ---- regular expressions -------------------------------------------------------------------------------

PATTERNS = [r"\d+x", r"^\d+-\d+$", r"[a-z]+@[a-z]+\.com", r"(a+)+$", r"(a|ab)*c", r"(cat|dog)+", r"(\d+,)*",
            r"(x+x+)+y", r"\d{1,1000}\d{1,1000}x", r"(.*a){20}", r"(a|b)*c", r"(\w+\s?)*$", r"(.*)(.*)(.*)(.*)x"]


@given(st.sampled_from(PATTERNS), st.sampled_from(["a", "1", "ab", "a,", "x", "cat", "aaaaaaaaa1"]))
@settings(deadline=None, max_examples=40)
def test_a_regex_runs_in_bounded_time_on_what_it_accepts_and_refuses_longer(pattern: str, unit: str) -> None:
    compiled = compile_bounded(pattern)
    longest = min(compiled.longest, 20_000)
    subject = (unit * (longest // len(unit) + 1))[:longest] + "!"
    started = time.process_time()
    compiled.search(subject[:longest])
    assert time.process_time() - started < max(1.0, REGEX_BUDGET / 1e7)
    if compiled.longest < 20_000:
        with pytest.raises(RegexTooCostly, match="may backtrack for too long"):
            compiled.search(subject[:compiled.longest + 1] + "!")


def test_a_substitution_counts_what_its_replacements_produce() -> None:
    with pytest.raises(RegexTooCostly, match="would produce more than"):
        compile_bounded("a").sub("$0" * 0 + "b" * 5000, "a" * 3000)


# ---- JSONata -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, words", [
    ("[1..1000000000]", "range operator"),                     # the engine's own bound, before any item
    ("[1..5000000]", "items has more than"),
    ("$count([1..5000000])", "items has more than"),
    ("$range(1, 1000000000, 1)", "more than 1000 items"),
    ("$pad('x', 1000000000)", "$pad would build a string"),
    ("$join($map([1..2000], function($v){$pad('', 5000)}), ',')", "$join would build a string"),
    ("$replace($pad('', 5000, 'a'), 'a', $pad('', 5000, 'b'))", "$replace would build a string"),
    ("$replace($pad('', 3000, 'a'), /a/, $pad('', 5000, 'b'))", "would produce more than"),
    ("$reduce([1..40], function($a, $b){$a & $a}, 'x')", "is longer than"),
    ("$reduce([1..60], function($a, $b){[$a, $a]}, [1])", "items has more than"),
    ("$string($reduce([1..30], function($a, $b){{'l': $a, 'r': $a}}, {'x': 1}))", "$string of a value"),
    ("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))", "nested more than"),
    ("$match($pad('', 100, 'a') & '!', /(a+)+$/)", "may backtrack for too long"),
])
def test_hostile_jsonata_fails_the_field_quickly(source: str, words: str) -> None:
    started = time.monotonic()
    error = jsonata_failure(source)
    assert error.error == QUERY_EVALUATION_ERROR, error
    assert words in (error.cause or ""), error.cause
    assert f"The JSONata expression '{source}' specified for the field 'Output'" in (error.cause or "")
    assert time.monotonic() - started < J.JSONATA_TIMEOUT_S


def test_jsonata_that_loops_inside_a_builtin_is_stopped_by_the_watchdog() -> None:
    started = time.monotonic()
    error = jsonata_failure("$count($distinct([1..900000]))")      # quadratic, no hook is called inside
    assert f"took longer than {J.JSONATA_TIMEOUT_S:g} seconds" in (error.cause or "")
    assert time.monotonic() - started < J.JSONATA_TIMEOUT_S + 1.5
    time.sleep(0.2)                                              # nothing stray is raised afterwards
    assert jsonata("1 + 1") == 2


def test_the_watchdog_interrupts_only_its_own_thread() -> None:
    results: dict[str, Any] = {}

    def slow() -> None:
        try:
            jsonata("$count($distinct([1..900000]))")
        except StatesFailure as exc:
            results["slow"] = exc.cause

    thread = threading.Thread(target=slow)
    thread.start()
    deadline = time.monotonic() + J.JSONATA_TIMEOUT_S + 1
    count = 0
    while time.monotonic() < deadline:                           # this thread evaluates all along
        assert jsonata("$sum([1..100])") == 5050
        count += 1
    thread.join()
    assert "took longer than" in results["slow"] and count > 10


def test_a_jsonata_value_over_the_quota_is_a_data_limit_failure() -> None:
    error = jsonata_failure("$map([1..300], function($v){$pad('', 1000, 'x')})")
    assert error.error == DATA_LIMIT_EXCEEDED and "maximum number of bytes" in (error.cause or "")


def test_ordinary_jsonata_is_unaffected() -> None:
    items = [{"id": i, "price": i * 1.5} for i in range(2000)]
    assert jsonata("$sum($states.input.items.price)", {"input": {"items": items}}) == sum(i * 1.5 for i in range(2000))
    assert jsonata("$replace('a-b-c', /-/, '+')") == "a+b+c"
    assert jsonata("$join(['a', 'b'], ',') & $pad('x', 3) & $string({'a': [1]})") == 'a,bx  {"a":[1]}'


# ---- payloads, Map and Parallel ----------------------------------------------------------------------

def test_a_pass_state_result_over_256_kib_fails_the_execution_as_aws_records_it() -> None:
    big = {"Arg1": "a" * (257 * 1024)}
    result = run_to_completion(machine(("State_1", {"Type": "Pass", "Result": big, "End": True})), {})
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    assert result.cause == ("The state/task 'State_1' returned a result with a size exceeding the maximum number of "
                            "bytes service limit.")
    assert types(result.history) == ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]


def test_an_oversized_task_result_that_is_not_caught_fails_the_execution() -> None:
    result = run_to_completion(machine(("T", task())), {}, lambda r, p: "x" * MAX_PAYLOAD)
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    failed = [e.to_aws() for e in result.history if e.type == "LambdaFunctionFailed"][0]
    assert failed["lambdaFunctionFailedEventDetails"] == {
        "error": DATA_LIMIT_EXCEEDED, "cause": f"The state/task '{LAMBDA}' returned a result with a size exceeding "
                                               "the maximum number of bytes service limit."}


def test_a_huge_lambda_result_is_refused_without_being_written() -> None:
    shared = "x" * 100_000
    result = run_to_completion(machine(("T", task())), {}, lambda r, p: [shared] * 1_000_000)   # 100 GB as text
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)


def test_an_inline_map_runs_at_most_40_iterations_at_once() -> None:
    definition = machine(("M", {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "End": True,
                                "ItemProcessor": {"StartAt": "T", "States": {"T": task()}}}))
    execution = Execution(definition, {"items": list(range(100))}, clock=FakeClock())
    first = invokes(execution.start().commands)
    assert len(first) == 40
    step = execution.advance(TaskSucceeded(first[0].task_id, 1))
    assert len(invokes(step.commands)) == 1                     # one ends, the next starts


def test_map_results_fail_the_state_as_soon_as_they_pass_the_quota() -> None:
    calls: list[Any] = []

    def handler(resource: str, parameters: Any) -> Any:
        calls.append(parameters)
        return "x" * 30_000

    definition = machine(("M", {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
                                "ItemProcessor": {"StartAt": "T", "States": {"T": task()}}}))
    result = run_to_completion(definition, {"items": list(range(100))}, handler)
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    assert result.cause == "The state/task 'M' returned a result with a size exceeding the maximum number of bytes " \
                           "service limit."
    assert len(calls) == 9                                      # 9 × 30 KB passes 256 KiB: no 10th iteration


def test_parallel_results_fail_the_state_as_soon_as_they_pass_the_quota() -> None:
    branch = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "x" * 100_000, "End": True}}}
    result = run_to_completion(machine(("P", {"Type": "Parallel", "Branches": [branch] * 3, "End": True,
                                              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]}),
                                       ("C", {"Type": "Pass", "End": True})), {})
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)


def test_a_parallel_state_that_would_copy_its_input_beyond_the_live_bound_fails_before_starting() -> None:
    branches = [{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}] * 200
    result = run_to_completion(machine(("P", {"Type": "Parallel", "Branches": branches, "End": True})),
                               {"s": "x" * 200_000})
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    assert f"more than the {MAX_LIVE_STATE} bytes" in (result.cause or "")
    assert "ParallelStateStarted" not in types(result.history)


def test_nested_maps_of_large_inputs_fail_instead_of_growing_the_state() -> None:
    inner = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}}
    outer = {"StartAt": "M2", "States": {"M2": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                                                "ItemSelector": {"all.$": "$$.Execution.Input.pad"},
                                                "ItemProcessor": inner}}}
    definition = machine(("M1", {"Type": "Map", "ItemsPath": "$.items", "End": True,
                                 "ItemSelector": {"items.$": "$$.Execution.Input.items",
                                                  "pad.$": "$$.Execution.Input.pad"}, "ItemProcessor": outer}))
    result = run_to_completion(definition, {"items": list(range(40)), "pad": "x" * 100_000})
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    assert "running branches and iterations hold" in (result.cause or "")


def test_assign_is_bounded_per_field_and_per_execution() -> None:
    one = run_to_completion(machine(("A", {"Type": "Pass", "Assign": {"a.$": "$.s", "b.$": "$.s"}, "End": True})),
                            {"s": "x" * 150_000})
    assert (one.status, one.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    assert "The variables assigned by the field 'Assign'" in (one.cause or "")
    states = [(f"A{i}", {"Type": "Pass", "Assign": {f"v{i}.$": "$.s"}, "Next": f"A{i + 1}"}) for i in range(60)]
    many = run_to_completion(machine(*states, ("A60", {"Type": "Succeed"})), {"s": "x" * 200_000})
    assert (many.status, many.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
    assert "bytes of variables, more than the 10485760 bytes allowed per execution" in (many.cause or "")


def test_a_catch_output_over_the_quota_fails_without_looping_through_the_catcher() -> None:
    def handler(resource: str, parameters: Any) -> Any:
        raise TaskError("Boom", "c" * 200_000)
    definition = machine(("T", task(Catch=[{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "T"},
                                           {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "T"}])))
    result = run_to_completion(definition, {"pad": "p" * 100_000}, handler)
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)


def test_a_loop_over_a_large_payload_yields_between_steps_instead_of_piling_up_events() -> None:
    definition = machine(("A", {"Type": "Pass", "Next": "B"}),
                         ("B", {"Type": "Choice", "Choices": [{"Variable": "$.p", "IsPresent": True, "Next": "A"}],
                                "Default": "E"}), ("E", {"Type": "Succeed"}))
    execution = Execution(definition, {"p": "x" * 200_000}, clock=FakeClock(), keep_history=False)
    step = execution.start()
    steps, largest = 1, 0
    while execution.status is ExecutionStatus.RUNNING and steps < 40:
        largest = max(largest, sum(len(json.dumps(e.details)) for e in step.events))
        (resume,) = [c for c in step.commands if isinstance(c, StartTimer)]
        assert resume.purpose == "yield"
        restored = Execution.restore(definition, json.loads(json.dumps(execution.snapshot())), clock=FakeClock())
        assert restored.outstanding() == [resume]                # a yield survives a restart like any timer
        step = execution.advance(TimerFired(resume.timer_id))
        steps += 1
    assert steps == 40 and largest <= MAX_STEP_BYTES + 2 * MAX_PAYLOAD
    assert execution.history == []                               # keep_history=False: nothing piles up


def test_iterations_snapshot_only_their_own_variables() -> None:
    definition = machine(("A", {"Type": "Pass", "Assign": {"big.$": "$.s"}, "Next": "M"}),
                         ("M", {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
                             "StartAt": "T", "States": {"T": task(Assign={"mine.$": "$"},
                                                                  Parameters={"v.$": "$big"})}}}))
    execution = Execution(definition, {"s": "x" * 200_000, "items": list(range(40))}, clock=FakeClock())
    commands = execution.start().commands
    snapshot = execution.snapshot()
    assert len(json.dumps(snapshot)) < 3 * 200_000 + 100_000 + 40 * 200_000     # big is written once, not 41 times
    children = [f for f in snapshot["frames"] if f["parent"]]
    assert len(children) == 40 and all(f["variables"] == {} for f in children)
    restored = Execution.restore(definition, json.loads(json.dumps(snapshot)), clock=FakeClock())
    first = invokes(commands)[0]
    assert first.parameters == {"v": "x" * 200_000}
    step = restored.advance(TaskSucceeded(first.task_id, {"ok": 1}))
    assert restored.status is ExecutionStatus.RUNNING and not [c for c in step.commands if isinstance(c, InvokeTask)]
    frames = list(restored._frames.values())
    assert all(f.variables.get("big") == "x" * 200_000 for f in frames)


def test_execution_input_over_the_quota_fails_at_start_in_the_core() -> None:
    result = run_to_completion(machine(("P", {"Type": "Pass", "End": True})), {"s": "x" * MAX_PAYLOAD})
    assert (result.status, result.error) == (ExecutionStatus.FAILED, DATA_LIMIT_EXCEEDED)
