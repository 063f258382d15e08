"""Mutation check: small deliberate bugs, one at a time, each run against the tests meant to catch it.

    .venv/bin/python tests/mutants.py                 # every mutant, against the committed HEAD
    .venv/bin/python tests/mutants.py NAME ...        # only these mutants
    .venv/bin/python tests/mutants.py --list          # names, files and tests
    .venv/bin/python tests/mutants.py --rev REV       # another commit (a branch, a tag, a hash)
    .venv/bin/python tests/mutants.py --no-baseline   # skip the unmutated run of each test set

The tree under test is ``git archive REV`` unpacked into a temporary folder: the checkout's own
files are never changed (others may be working in it), and what is not committed is not tested.
For each mutant the named file's exact ``old`` text (it must occur exactly once) is replaced by
``new``, the named tests run with this interpreter (``python -m pytest -x``, the tree first on
``PYTHONPATH``, so servers and environments the tests start run the mutated code too), and the
file is restored. A mutant is *killed* when a test fails on it, *survived* when they all pass.
First each distinct set of tests runs once unmutated: a kill only counts if they pass without it.

Exit status: 0 when every mutant was killed, 1 when one survived or a baseline failed, 2 on a
stale mutant (its ``old`` text is no longer in the file, or is there more than once).
Not part of the test suite (pytest collects ``test_*.py`` only).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 900


@dataclass(frozen=True)
class Mutant:
    name: str
    why: str            # the bug it stands for
    path: str           # relative to the repository
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = [
    # -- issue 28's escaped mutants --------------------------------------------------------------
    Mutant("durability-full-without-fsync", 'durability="full" no longer fsyncs each commit',
           "cumulo/store/sqlite_messages/database.py",
           "f\"PRAGMA synchronous={'FULL' if durability == 'full' else 'NORMAL'}\"",
           "\"PRAGMA synchronous=NORMAL\"",
           ("tests/unit/store/test_durability.py",)),
    Mutant("durability-setting-not-passed", "the durability setting never reaches the message store",
           "cumulo/app.py",
           "SQLiteMessageStore(s.messages_path, s.durability)", "SQLiteMessageStore(s.messages_path)",
           ("tests/unit/store/test_durability.py",)),
    Mutant("async-retry-at-once", "asynchronous retries run at once instead of after 1 and 2 minutes",
           "cumulo/functions/asynchronous.py",
           'delay = settings.async_retry_delay_s * meta["n"]', "delay = 0",
           ("tests/unit/invoke/test_asynchronous.py", "tests/integration/test_async.py")),
    Mutant("async-retry-one-minute-twice", "the third attempt comes 1 minute after the second, not 2",
           "cumulo/functions/asynchronous.py",
           'delay = settings.async_retry_delay_s * meta["n"]', "delay = settings.async_retry_delay_s",
           ("tests/unit/invoke/test_asynchronous.py", "tests/integration/test_async.py")),
    Mutant("max-event-age-ignored", "MaximumEventAgeInSeconds is stored but never enforced",
           "cumulo/functions/asynchronous.py",
           'doc.get("MaximumEventAgeInSeconds", MAX_AGE_DEFAULT_S)', "MAX_AGE_DEFAULT_S",
           ("tests/unit/invoke/test_asynchronous.py",)),
    Mutant("max-event-age-unchecked-when-leased", "an event older than its maximum age is still delivered",
           "cumulo/functions/asynchronous.py",
           'if now - meta["at"] > policy.max_age_s * 1000:', "if False:",
           ("tests/unit/invoke/test_asynchronous.py",)),
    Mutant("max-event-age-unchecked-on-throttle", "a throttled event is requeued past its maximum age",
           "cumulo/functions/asynchronous.py",
           'if now + delay * 1000 - meta["at"] > policy.max_age_s * 1000:', "if False:",
           ("tests/unit/invoke/test_asynchronous.py",)),
    Mutant("memory-cgroup-4x", "the memory cgroup is set to 4x the function's memory size",
           "cumulo/runtime/environment.py",
           'cgroups.new(f"env-{env_id}", spec.memory_mb * 1024 * 1024)',
           'cgroups.new(f"env-{env_id}", 4 * spec.memory_mb * 1024 * 1024)',
           ("tests/integration/test_limits.py::test_memory_limit_kills_with_out_of_memory",)),
    Mutant("sequential-map", "a Map state runs its iterations one at a time",
           "cumulo/stepfunctions/asl/interpreter.py",
           "concurrency = min(limits.max_concurrency or MAX_INLINE_CONCURRENCY, MAX_INLINE_CONCURRENCY)",
           "concurrency = 1",
           ("tests/integration/test_stepfunctions.py::test_map_and_parallel_run_tasks_concurrently",)),
    # -- our own ---------------------------------------------------------------------------------
    Mutant("retrier-counts-per-error-name", "a retrier's MaxAttempts counted per error name, not per retrier "
           "(the interpreter before issue 28: the guide's ErrorA, ErrorB, ErrorC, ErrorB retries the last ErrorB)",
           "cumulo/stepfunctions/asl/interpreter.py",
           "attempts = frame.retries.get(str(index), 0)\n"
           "                if attempts < retrier.max_attempts:\n"
           "                    attempt = frame.retries[str(index)] = attempts + 1\n",
           'attempts = frame.retries.get(f"{index}:{error}", 0)\n'
           "                if attempts < retrier.max_attempts:\n"
           '                    frame.retries[f"{index}:{error}"] = attempts + 1\n'
           "                    attempt = frame.retries[str(index)] = frame.retries.get(str(index), 0) + 1\n",
           ("tests/unit/states/test_retry_catch.py",)),
    Mutant("async-throttle-backoff-flat", "a throttled event's backoff does not double",
           "cumulo/functions/asynchronous.py",
           'settings.async_throttle_backoff_s * 2 ** (meta["t"] - 1)', "settings.async_throttle_backoff_s",
           ("tests/unit/invoke/test_asynchronous.py",)),
    Mutant("sqs-receive-count-as-number", "the SQS event's ApproximateReceiveCount is a number, not a string",
           "cumulo/sources/queues.py",
           '"ApproximateReceiveCount": str(m.receives)', '"ApproximateReceiveCount": m.receives',
           ("tests/conformance/test_emitted_events.py",)),
    Mutant("kinesis-arrival-as-string", "the Kinesis record's approximateArrivalTimestamp is a string",
           "cumulo/functions/pollers.py",
           '"approximateArrivalTimestamp": arrival_ms / 1000', '"approximateArrivalTimestamp": str(arrival_ms / 1000)',
           ("tests/conformance/test_emitted_events.py",)),
    Mutant("eventbridge-without-resources", "EventBridge events lose their resources list",
           "cumulo/events/bus.py",
           '"resources": resources, ', "",
           ("tests/conformance/test_emitted_events.py",)),
    Mutant("oom-report-not-measured", "REPORT after an out-of-memory kill shows the last peak the process reported, not the cgroup's",
           "cumulo/runtime/environment.py",
           "self.maxrss_kb = max(self.maxrss_kb, self._peak_kb(0))", "pass",
           ("tests/integration/test_limits.py::test_memory_limit_kills_with_out_of_memory",)),
]


def _conformance() -> str:
    given = os.environ.get("CUMULO_CONFORMANCE")
    if given:
        return given
    sys.path.insert(0, str(ROOT))
    from tests.conformance.data import CONFORMANCE
    return str(CONFORMANCE)


def _unpack(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def _pytest(tree: Path, tests: tuple[str, ...], env: dict[str, str]) -> tuple[str, str, float]:
    """Run the tests in ``tree``: ("pass" | "fail" | "error" | "timeout", the first failure, seconds)."""
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-rfE",
                               *tests], cwd=tree, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "timeout", f"no answer within {TIMEOUT_S} s", time.monotonic() - started
    elapsed = time.monotonic() - started
    first = next((line for line in done.stdout.splitlines() if re.match(r"(FAILED|ERROR) ", line)), "")
    if done.returncode == 0:
        return "pass", "", elapsed
    if done.returncode == 1:
        return "fail", first or done.stdout.strip().splitlines()[-1], elapsed
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    return "error", f"pytest exit {done.returncode}: " + " | ".join(tail), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="run only these mutants")
    parser.add_argument("--rev", default="HEAD", help="the commit to mutate (default HEAD)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true", help="do not run each test set unmutated first")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"no such mutant: {', '.join(sorted(unknown))}")
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    {m.why}\n    {m.path}\n    tests: {' '.join(m.tests)}")
        return 0

    tree = Path(tempfile.mkdtemp(prefix="cumulo-mutants-"))
    try:
        _unpack(args.rev, tree)
        stale = []
        for m in chosen:
            count = (tree / m.path).read_text().count(m.old) if (tree / m.path).exists() else 0
            if count != 1:
                stale.append(f"{m.name}: {m.path} has its old text {count} times, not once")
        if stale:
            print("stale mutants:\n  " + "\n  ".join(stale))
            return 2
        env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1",
                   CUMULO_CONFORMANCE=_conformance())
        env.pop("CUMULO_REQUIRE", None)      # a skip is a skip here; the baseline shows what ran
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.rev], capture_output=True,
                             text=True, check=True).stdout.strip()
        print(f"mutating {rev} in {tree} ({len(chosen)} mutants)\n", flush=True)

        broken = False
        if not args.no_baseline:
            for tests in dict.fromkeys(m.tests for m in chosen):
                outcome, detail, seconds = _pytest(tree, tests, env)
                print(f"baseline {' '.join(tests)}: {outcome} ({seconds:.0f} s) {detail}", flush=True)
                broken |= outcome != "pass"
            print(flush=True)

        results = []
        for m in chosen:
            path = tree / m.path
            original = path.read_text()
            path.write_text(original.replace(m.old, m.new))
            try:
                outcome, detail, seconds = _pytest(tree, m.tests, env)
            finally:
                path.write_text(original)
            verdict = {"pass": "SURVIVED", "fail": "killed", "timeout": "killed (timeout)"}.get(outcome, "ERROR")
            results.append((m, verdict))
            print(f"{verdict:<16} {m.name} ({seconds:.0f} s)\n    {m.why}\n    {detail}", flush=True)

        survived = [m.name for m, v in results if v in ("SURVIVED", "ERROR")]
        print(f"\n{len(results) - len(survived)} of {len(results)} mutants killed"
              + (f"; not killed: {', '.join(survived)}" if survived else ""))
        if broken:
            print("a baseline run failed: its kills prove nothing")
        return 1 if survived or broken else 0
    finally:
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
