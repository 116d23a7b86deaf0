"""Bucket every autograd test of a shim run: pass / fail / cannot-run / out-of-scope, with reasons.

python tools/autograd_parity/classify.py .cache/results.jsonl [--list fail,cannot-run]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

# Whole files testing what the parity measure leaves out.
OUT_OF_SCOPE_FILES = {
    "test_builtins.py": "autograd's container types",
    "test_dict.py": "autograd's container types",
    "test_list.py": "autograd's container types",
    "test_tuple.py": "autograd's container types",
    "test_complex.py": "complex numbers",
    "test_vspaces.py": "autograd's vspace internals",
}
BUCKETS = ("pass", "fail", "cannot-run", "out-of-scope")

# Missing names whose values are complex (np.fft's transforms, angle, real_if_close).
FFTS = ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2")
COMPLEX_NAMES = {f"cr.fft.{n}" for n in (*FFTS, "rfftn", "irfftn", "hfft", "ihfft")} | {
    "cr.angle",
    "cr.real_if_close",
}
# autograd's own additions to NumPy's names (not NumPy's API).
AUTOGRAD_ONLY_NAMES = {"cr.make_diagonal", "cr.linalg.T", "cr.linalg._dot"}
# Single tests of autograd-only behaviour, or in conflict with a documented chainrule rule.
TESTS = {
    **{
        f"tests/test_wrappers.py::test_custom_where_dtypes[{p}]": (
            "autograd's own where: Python inputs give Python values (NumPy gives arrays)"
        )
        for p in ("int-True-1-2", "float-True-3.0-4.0", "float-False-1-2.0", "list-True-x3-y3")
    },
    "tests/test_wrappers.py::test_custom_where_dtypes[float64-False-x6-y6]": (
        "dtype policy: where(c, float64 array, float32 array) is float64 in NumPy, an error "
        "naming both dtypes in chainrule (API.md, dtypes.py rule 3: floats of two widths)"
    ),
    "tests/test_wrappers.py::test_wrapped_name_and_docs": "autograd's wrap_util names and docs",
    **{
        f"tests/test_scipy.py::{t}": "autograd's own convolve(axes=, dot_axes=) (not SciPy's)"
        for t in (
            "test_convolve_generalization",
            "test_convolve_ignore",
            "test_convolve_ignore_dot",
        )
    },
}


def classify(row: dict) -> tuple[str, str]:
    """(bucket, reason) for one recorded test."""
    file = row["nodeid"].split("::")[0].rsplit("/", 1)[-1]
    if file in OUT_OF_SCOPE_FILES:
        return "out-of-scope", OUT_OF_SCOPE_FILES[file]
    if row["nodeid"] in TESTS:
        return "out-of-scope", TESTS[row["nodeid"]]
    if "complex" in row["nodeid"]:
        return "out-of-scope", "complex numbers (a complex test)"
    mro = row["exc_mro"]
    if "MissingName" in mro:
        name = row["message"].removeprefix("chainrule lacks ")
        if name in COMPLEX_NAMES:
            return "out-of-scope", f"complex numbers: {name} has complex values"
        if name in AUTOGRAD_ONLY_NAMES:
            return "out-of-scope", f"autograd's own addition to NumPy: {name}"
    if "OutOfScope" in mro:
        return "out-of-scope", row["message"]
    if row["outcome"] == "skipped":
        return "out-of-scope", f"skipped by autograd's suite: {row['message']}"
    if row["outcome"] == "passed":
        if row["checks"] == 0 and row["complex_skipped"] > 0:
            return "out-of-scope", "complex numbers (every check had complex values)"
        return "pass", ""
    if "MissingName" in mro:
        return "cannot-run", row["message"]
    if "complex" in row["message"].lower():
        return "out-of-scope", f"complex numbers: {row['exc_type']}: {row['message']}"
    return "fail", f"{row['exc_type']}: {row['message']} ({row['where']})"


def load(path: Path) -> list[dict]:
    rows = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        rows[row["nodeid"]] = row  # a setup failure then a call: keep the last
    return list(rows.values())


def table(rows: list[dict]) -> tuple[str, dict[str, list[tuple[str, str]]]]:
    by_bucket: dict[str, list[tuple[str, str]]] = {b: [] for b in BUCKETS}
    for row in rows:
        bucket, reason = classify(row)
        by_bucket[bucket].append((row["nodeid"], reason))
    n = {b: len(v) for b, v in by_bucket.items()}
    applicable = n["pass"] + n["fail"] + n["cannot-run"]
    lines = [
        "| tests | applicable | pass | fail | cannot-run | out-of-scope |",
        "|---|---|---|---|---|---|",
        f"| {len(rows)} | {applicable} | {n['pass']} | {n['fail']} | {n['cannot-run']} "
        f"| {n['out-of-scope']} |",
    ]
    return "\n".join(lines), by_bucket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--list", default="fail,cannot-run", help="buckets to list test by test")
    args = parser.parse_args()
    text, by_bucket = table(load(args.results))
    print(text)
    for bucket in filter(None, args.list.split(",")):
        print(f"\n## {bucket} ({len(by_bucket[bucket])})")
        if bucket == "out-of-scope":
            for reason, count in Counter(r for _, r in by_bucket[bucket]).most_common():
                print(f"  {count:4d}  {reason}")
            continue
        for nodeid, reason in sorted(by_bucket[bucket]):
            print(f"  {nodeid}  {reason}")


if __name__ == "__main__":
    main()
