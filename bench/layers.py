"""Layers benchmark: what layers add to a cold start, against the same function without layers.

    python bench/layers.py [--rounds N]

Measured in one run, alternating so both see the same machine state:
- cold start (new environment + first invoke) of a no-op handler with 0, 1 and 5 layers
  (each layer 50 small modules under python/); the ratio is against 0 layers;
- the first cold start after a new ordered list of layers, which also extracts and merges them.
Not a test: nothing here asserts; figures are read by people (see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402


def _layer(root: Path, n: int, files: int = 50) -> Path:
    folder = root / f"layer{n}" / "python"
    folder.mkdir(parents=True)
    for i in range(files):
        (folder / f"l{n}_m{i}.py").write_text(f"X = {i}\n")
    return folder.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        code = tmp / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
        with Cumulo(home=tmp / "home") as c:
            arns = [c.publish_layer_version(f"bench{n}", _layer(tmp, n))["LayerVersionArn"] for n in range(5)]
            cases = {"0 layers": [], "1 layer": arns[:1], "5 layers": arns}
            for name, layers in cases.items():
                c.create_function(name.replace(" ", "-"), code, "app.handler", layers=layers)
            c.invoke("0-layers", b"{}")                      # the runtime (zygote) is up before timing
            for name in ("1-layer", "5-layers"):
                started = time.perf_counter()
                c.invoke(name, b"{}")
                print(f"first cold start, {name} (extract + merge): {(time.perf_counter() - started) * 1000:.1f} ms")
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for i in range(rounds):
                for name in cases:
                    fname = name.replace(" ", "-")
                    c.update_function_configuration(fname, description=str(i))   # the next invoke is cold
                    started = time.perf_counter()
                    assert c.invoke(fname, b"{}").cold_start
                    samples[name].append((time.perf_counter() - started) * 1000)
            base = statistics.median(samples["0 layers"])
            print(f"sandbox level: {c.sandbox.level.value}; cold start medians over {rounds} rounds")
            for name, ms in samples.items():
                print(f"  {name:9s} {statistics.median(ms):6.2f} ms  ({statistics.median(ms) / base:.2f}x)")


if __name__ == "__main__":
    main()
