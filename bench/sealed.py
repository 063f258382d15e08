"""Secrets at rest, in process, beside plain values measured in the same run.

    python bench/sealed.py [--n N]

- a function configuration with 20 environment variables read from its stored JSON: plain (as
  before issue 23) and sealed (``SQLiteStore._load``: one AES-GCM open), per read; the store caches
  configurations, so a cold start pays this only when its configuration changed;
- GetSecretValue (``SecretService.get_secret_value``: a document read and one open) beside a plain
  document read of the same size, p50 and p99;
- GetParameter of a SecureString with decryption beside a String parameter.
Not a test: nothing here asserts; the numbers are read by people.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402
from cumulo.model.function import FunctionConfiguration  # noqa: E402


def timed(n: int, fn: object) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1e6)
    return out


def show(label: str, samples: list[float]) -> float:
    samples.sort()
    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99) - 1]
    print(f"{label:58s} p50 {p50:8.1f} us   p99 {p99:8.1f} us")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp, Cumulo(home=Path(tmp) / "home") as c:
        env = {f"VARIABLE_{i:02d}": "x" * 40 for i in range(20)}
        config = FunctionConfiguration(name="bench", handler="app.handler", code_sha256="", code_size=0,
                                       environment=env)
        plain_text = json.dumps(config.to_dict())
        sealed_text = c.store._dump(config)
        assert "x" * 40 not in sealed_text
        plain = show("configuration, 20 variables, plain JSON", timed(n, lambda: FunctionConfiguration.from_dict(
            json.loads(plain_text))))
        sealed = show("configuration, 20 variables, sealed", timed(n, lambda: c.store._load(sealed_text)))
        print(f"{'  sealed costs per uncached read':58s} {sealed - plain:+8.1f} us")

        value = json.dumps({"user": "app", "password": "p" * 32})
        c.secrets.create_secret("bench/db", value)
        c.store.put_document("bench-plain", "db", {"value": value})
        show("plain document read (same size)", timed(n, lambda: c.store.get_document("bench-plain", "db")))
        show("GetSecretValue (in process)", timed(n, lambda: c.secrets.get_secret_value("bench/db")))
        c.parameters.put_parameter("/bench/plain", "v" * 64, "String")
        c.parameters.put_parameter("/bench/secure", "v" * 64, "SecureString")
        show("GetParameter String", timed(n, lambda: c.parameters.get("/bench/plain")))
        show("GetParameter SecureString WithDecryption", timed(n, lambda: c.parameters.get("/bench/secure", True)))


if __name__ == "__main__":
    main()
