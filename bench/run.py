"""Run the whole suite and write the results table.

    python -m bench.run            # full run (about 5 minutes on 2 cores)
    python -m bench.run --quick    # reduced iteration counts (CI keeps it working; no timing checks)
    python -m bench.run --only P3  # one benchmark (several: --only P1 --only P8)

Writes `<out>/results.md` and `<out>/results.json` (`results-quick.*` in quick mode; `bench/results`
is git-ignored) and prints the markdown table. Exit status 1 if a benchmark crashed (a missed
target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bench.common import REPO_ROOT, Figure

# (id, module, what it measures); each module has `run(quick: bool) -> list[Figure]`.
BENCHMARKS: tuple[tuple[str, str, str], ...] = (
    ("P1", "bench.p1_roundtrip", "tool round-trip, stdio and Streamable HTTP"),
    ("P2", "bench.p2_startup", "spawn → first tools/list"),
    ("P3", "bench.p3_polling", "upstream polls per job, detection lag, 429s"),
    ("P4", "bench.p4_connections", "TCP connections per 100 upstream requests"),
    ("P5", "bench.p5_concurrency", "100 concurrent creates vs one"),
    ("P6", "bench.p6_memory", "memory per tracked job"),
    ("P7", "bench.p7_download", "large download: memory and throughput"),
    ("P8", "bench.p8_durable", "create latency, durable store vs none"),
)

Runner = Callable[[bool], list[Figure]]


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    text = f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".strip()


def _comparison(figure: Figure) -> str:
    parts: list[str] = []
    if figure.ratio is not None:
        parts.append(f"{figure.ratio:.3f}×")
    if figure.delta is not None:
        parts.append(f"{figure.delta:+.3f} {figure.unit}")
    return " / ".join(parts) or "—"


def _verdict(figure: Figure) -> str:
    if figure.error:
        return "**ERROR**"
    return "yes" if figure.met else "**no**"


def table(figures: Sequence[Figure]) -> str:
    lines = [
        "| Id | Figure | Ours | Reference | Ratio / Δ | Target | Met |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        if f.error:
            lines.append(f"| {f.id} | {f.name} | — | — | — | {f.target} | {_verdict(f)} |")
            continue
        reference = f"{_number(f.reference, f.unit)} ({f.reference_label})" if f.reference is not None else "—"
        lines.append(
            f"| {f.id} | {f.name} | {_number(f.ours, f.unit)} | {reference} | {_comparison(f)} | {f.target} "
            f"| {_verdict(f)} |"
        )
    return "\n".join(lines)


def _flatten(prefix: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, inner in cast(dict[str, Any], value).items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out.append(f"  - {prefix}: {value}")


def _p3_table(figure: Figure) -> list[str]:
    per_t = cast(dict[str, dict[str, Any]], figure.details.get("per_T", {}))
    if not per_t:
        return []
    columns = list(next(iter(per_t.values())).keys())
    lines = ["", "  | T | " + " | ".join(columns) + " |", "  |---|" + "---|" * len(columns)]
    for label, row in per_t.items():
        lines.append(f"  | {label} | " + " | ".join(str(row[c]) for c in columns) + " |")
    return [*lines, ""]


def details(figures: Sequence[Figure]) -> str:
    lines = ["## Absolute numbers and details", ""]
    for f in figures:
        lines.append(f"- **{f.id} {f.name}**: ours {_number(f.ours, f.unit)}, reference {_number(f.reference, f.unit)}")
        if f.error:
            lines.append(f"  - error: {f.error}")
        flat: list[str] = []
        _flatten("", {k: v for k, v in f.details.items() if k != "per_T"}, flat)
        lines.extend(flat)
        lines.extend(_p3_table(f))
    return "\n".join(lines)


def markdown(figures: Sequence[Figure], meta: dict[str, Any]) -> str:
    header = [
        f"# genmcp benchmarks ({meta['mode']} run)",
        "",
        f"{meta['finished']} · Python {meta['python']} · {meta['cpus']} CPUs · {meta['seconds']:.0f} s wall · "
        "loopback simulators only, fixed iteration counts. Ratios are ours / reference from the same run.",
        "",
    ]
    return "\n".join([*header, table(figures), "", details(figures), ""])


def run_all(quick: bool, only: Sequence[str] = ()) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    errors: list[str] = []
    for ident, module_name, what in BENCHMARKS:
        if only and ident not in only:
            continue
        started = time.perf_counter()
        sys.stderr.write(f"[bench] {ident}: {what} ...\n")
        sys.stderr.flush()
        try:
            module = importlib.import_module(module_name)
            runner = cast(Runner, module.run)
            produced = runner(quick)
            if not produced:
                raise RuntimeError("the benchmark produced no figure")
            figures.extend(produced)
        except Exception as err:
            errors.append(f"{ident}: {err!r}")
            traceback.print_exc(file=sys.stderr)
            figures.append(
                Figure(
                    id=ident,
                    name=what,
                    unit="",
                    ours=math.nan,
                    reference=None,
                    reference_label="",
                    target="—",
                    met=False,
                    error=f"{type(err).__name__}: {err}"[:500],
                )
            )
        sys.stderr.write(f"[bench] {ident} done in {time.perf_counter() - started:.1f} s\n")
        sys.stderr.flush()
    return figures, errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="genmcp performance suite")
    parser.add_argument("--quick", action="store_true", help="reduced iteration counts (CI)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results", help="output folder")
    parser.add_argument("--only", action="append", default=[], help="run only this benchmark id (repeatable)")
    args = parser.parse_args(argv)
    # Before anything configures logging: keep the in-process servers' INFO chatter off stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    figures, errors = run_all(args.quick, [o.upper() for o in args.only])
    mode = "quick" if args.quick else "full"
    meta: dict[str, Any] = {
        "mode": mode,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "seconds": time.perf_counter() - started,
        "errors": errors,
    }
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = "results-quick" if args.quick else "results"
    text = markdown(figures, meta)
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    payload = {"meta": meta, "figures": [f.to_json() for f in figures]}
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    print(table(figures))
    print(f"\n{len(figures)} figures, {sum(f.met for f in figures)} met; details in {out / (stem + '.md')}")
    if errors:
        print("benchmark errors: " + "; ".join(errors))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
