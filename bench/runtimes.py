"""Runtimes benchmark: cold and warm invokes of Runtime API runtimes beside the forked Python path.

    python bench/runtimes.py [--cold N] [--warm N]

One run, one machine, the same no-op function in each runtime:
- ``python3.11`` forked from the zygote (the baseline every ratio is against);
- ``nodejs20.x`` on our bootstrap (cumulo/runtime/inside/node/bootstrap.js);
- ``provided.al2023`` with a compiled C bootstrap (a keep-alive client costing microseconds: its
  warm figure is the Runtime API's own cost per invoke, server and process switch included);
- ``provided.al2023`` with a bash + curl bootstrap (two curl processes per invoke);
- ``provided.al2023`` with AWS's Python runtime client, awslambdaric (when pip can install it).
Also, as outside baselines: starting ``node`` to require and call the handler once (vs the Node.js
cold start). Prints medians and p99; nothing here asserts.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cumulo import Cumulo  # noqa: E402

C_BOOTSTRAP = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
int main(void) {
    char api[64]; strncpy(api, getenv("AWS_LAMBDA_RUNTIME_API"), 63); api[63] = 0;
    char *colon = strchr(api, ':'); *colon = 0;
    struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons(atoi(colon + 1));
    inet_pton(AF_INET, api, &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&a, sizeof a)) return 2;
    static char buf[1 << 16]; char req[512];
    for (;;) {
        const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        write(s, next, strlen(next));
        size_t got = 0; char *end; long len = 0;
        do { ssize_t n = read(s, buf + got, sizeof buf - 1 - got); if (n <= 0) return 3; got += n; buf[got] = 0; }
        while (!(end = strstr(buf, "\r\n\r\n")));
        len = atol(strcasestr(buf, "Content-Length:") + 15);
        while ((long)(got - (end + 4 - buf)) < len) { ssize_t n = read(s, buf + got, sizeof buf - 1 - got); if (n <= 0) return 4; got += n; }
        char *h = strcasestr(buf, "Lambda-Runtime-Aws-Request-Id:") + 30; while (*h == ' ') h++;
        int idn = (int)strcspn(h, "\r\n");
        int n = snprintf(req, sizeof req, "POST /2018-06-01/runtime/invocation/%.*s/response HTTP/1.1\r\n"
                         "Host: x\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", idn, h);
        write(s, req, n);
        got = 0;
        do { ssize_t r = read(s, buf + got, sizeof buf - 1 - got); if (r <= 0) return 5; got += r; buf[got] = 0; }
        while (!(end = strstr(buf, "\r\n\r\n")) || (long)(got - (end + 4 - buf)) < atol(strcasestr(buf, "Content-Length:") + 15));
    }
}
"""

BASH_BOOTSTRAP = """\
#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -o /dev/null -D "$HEADERS" "$API/invocation/next"
  ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  curl -sS -o /dev/null "$API/invocation/$ID/response" -d '{"ok": true}'
done
"""


def _stats(samples_s: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]


def _init_ms(lines: list[str]) -> tuple[str, float] | None:
    """What the REPORT line says a cold start cost: ("init", ms) for an on-demand Init, ("restore", ms)
    for an environment forked from a template (SnapStart: its Init is in INIT_REPORT, once per
    template), or None when the line has neither (a warm call)."""
    report = next(line for line in lines if line.startswith("REPORT"))
    for kind, label in (("init", "Init Duration"), ("restore", "Restore Duration")):
        if m := re.search(rf"\t{label}: ([\d.]+) ms", report):
            return kind, float(m.group(1))
    return None


def measure(c: Cumulo, name: str, cold_rounds: int, warm_rounds: int) -> dict[str, Any]:
    first = c.invoke(name, b"{}")
    assert first.function_error is None, first.payload
    cold, inits, kinds = [], [], set()
    for _ in range(cold_rounds):
        c.pool.retire(name)
        t = time.perf_counter()
        result = c.invoke(name, b"{}")
        cold.append(time.perf_counter() - t)
        assert result.cold_start and result.function_error is None, result.payload
        if (found := _init_ms(result.log_lines)) is not None:
            kinds.add(found[0])
            inits.append(found[1] / 1000)
    warm = []
    for _ in range(warm_rounds):
        t = time.perf_counter()
        result = c.invoke(name, b"{}")
        warm.append(time.perf_counter() - t)
        assert not result.cold_start
    cold50, cold99 = _stats(cold)
    warm50, warm99 = _stats(warm)
    init = _stats(inits)[0] if inits else float("nan")
    return {"cold": cold50, "cold99": cold99, "init": init, "init_kind": " + ".join(sorted(kinds)) or "none",
            "warm": warm50, "warm99": warm99}


def _folder(root: Path, name: str, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    folder = root / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    for file in executable:
        (folder / file).chmod(0o755)
    return folder


def _node_baseline(folder: Path, rounds: int) -> float:
    script = (f"const h = require({str(folder / 'index.js')!r}).handler;"
              "h({}, {}).then((r) => process.stdout.write(JSON.stringify(r)));")
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(["node", "-e", script], check=True, capture_output=True)
        samples.append(time.perf_counter() - t)
    return _stats(samples)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=30)
    parser.add_argument("--warm", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        functions: list[tuple[str, str, Path, str, int]] = []   # label, runtime, code, handler, warm rounds
        functions.append(("python3.11 (fork)", "python3.11",
                          _folder(root, "py", {"app.py": "def handler(event, context):\n    return {'ok': True}\n"}),
                          "app.handler", args.warm))
        node_dir = None
        if shutil.which("node"):
            node_dir = _folder(root, "node", {"index.js": "exports.handler = async () => ({ ok: true });\n"})
            functions.append(("nodejs20.x", "nodejs20.x", node_dir, "index.handler", args.warm))
        if shutil.which("gcc"):
            c_dir = root / "c"
            c_dir.mkdir()
            (root / "bootstrap.c").write_text(C_BOOTSTRAP)
            subprocess.run(["gcc", "-O2", "-o", str(c_dir / "bootstrap"), str(root / "bootstrap.c")], check=True)
            functions.append(("provided.al2023, C bootstrap", "provided.al2023", c_dir, "x", args.warm))
        if shutil.which("curl"):
            functions.append(("provided.al2023, bash + curl", "provided.al2023",
                              _folder(root, "bash", {"bootstrap": BASH_BOOTSTRAP}, ("bootstrap",)), "x",
                              max(args.warm // 10, 20)))
        ric = _folder(root, "ric", {"app.py": "def handler(event, context):\n    return {'ok': True}\n",
                                    "bootstrap": f"#!/bin/sh\nexec {sys.executable} -m awslambdaric app.handler\n"},
                      ("bootstrap",))
        installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(ric),
                                    "awslambdaric"], capture_output=True, text=True)
        if installed.returncode == 0:
            functions.append(("provided.al2023, awslambdaric", "provided.al2023", ric, "app.handler", args.warm))
        else:
            print("awslambdaric: not installable here, skipped")
        with Cumulo(home=root / "home", idle_timeout_s=3600) as c:
            print(f"sandbox: {c.sandbox.level.value}, memory: {c.memory_enforcement}, python {sys.version.split()[0]}, "
                  f"{args.cold} cold / up to {args.warm} warm invokes each", flush=True)
            results = {}
            for i, (label, runtime, code, handler, warm_rounds) in enumerate(functions):
                name = f"bench{i}"
                c.create_function(name, code, handler, runtime=runtime)
                results[label] = measure(c, name, args.cold, warm_rounds)
                print(f"  measured {label}", flush=True)
        base = results["python3.11 (fork)"]
        print()
        print("| runtime | cold p50 | cold p99 | Init / Restore Duration p50 | warm p50 | warm p99 | cold vs Python "
              "| warm vs Python |")
        print("|---|---|---|---|---|---|---|---|")
        for label, r in results.items():
            init = "n/a" if r["init"] != r["init"] else f"{r['init']:.2f} ms ({r['init_kind']})"
            print(f"| {label} | {r['cold']:.2f} ms | {r['cold99']:.2f} ms | {init} | {r['warm']:.3f} ms | "
                  f"{r['warm99']:.3f} ms | {r['cold'] / base['cold']:.1f}x | {r['warm'] / base['warm']:.1f}x |")
        if node_dir is not None:
            baseline = _node_baseline(node_dir, max(args.cold // 2, 5))
            node = results["nodejs20.x"]
            print(f"\nbaseline: `node -e` requiring and calling the handler once: p50 {baseline:.2f} ms "
                  f"(Cumulo's Node.js cold start: {node['cold']:.2f} ms, {baseline / node['cold']:.1f}x faster)")


if __name__ == "__main__":
    main()
