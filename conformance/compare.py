#!/usr/bin/env python3
"""Compare an Autobahn report with the checked-in expectations.

    python3 conformance/compare.py server|client [--update]

Reads conformance/reports/ROLE/index.json (Autobahn format: agent -> case id ->
{"behavior", "behaviorClose", ...}) and conformance/expected/ROLE.json
(case id -> {"behavior", "behaviorClose"}). Exits 1 if a case is missing, got
worse than expected, or (without CASES) the report does not hold all 517 cases.
--update rewrites the expected file from the report instead (with CASES set it
only replaces the selected cases). CASES / CASES_EXCLUDE: the same case ids or
`*` globs (comma or space separated) that autobahn.sh passed to kosoku.
"""

import fnmatch
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL_SUITE = 517
PASS = {"OK", "NON-STRICT", "INFORMATIONAL"}
# Higher is better. Any label not listed (FAILED, ERROR, WRONG CODE, UNCLEAN,
# FAILED BY CLIENT, ...) counts as failing.
RANK = {**{label: 2 for label in PASS}, "UNIMPLEMENTED": 1}
FIELDS = ("behavior", "behaviorClose")


def rank(label):
    return RANK.get(label, 0)


def case_key(case_id):
    return [int(part) for part in case_id.split(".")]


def patterns(var):
    return [p for p in re.split(r"[,\s]+", os.environ.get(var, "")) if p]


def selected(case_id, include, exclude):
    match = lambda pats: any(fnmatch.fnmatchcase(case_id, p) for p in pats)
    return (not include or match(include)) and not match(exclude)


def load_report(path):
    index = json.loads(path.read_text())
    if len(index) != 1:
        sys.exit(f"{path}: expected one agent, found {sorted(index)}")
    (cases,) = index.values()
    return {cid: {f: c[f] for f in FIELDS} for cid, c in cases.items()}


def write_expected(path, cases):
    lines = [f"  {json.dumps(cid)}: {json.dumps(cases[cid])}" for cid in sorted(cases, key=case_key)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def fmt(case):
    return "/".join(case[f] for f in FIELDS)


def main():
    args = sys.argv[1:]
    update = "--update" in args
    roles = [a for a in args if a != "--update"]
    if len(roles) != 1 or roles[0] not in ("server", "client"):
        sys.exit(__doc__.strip())
    role = roles[0]
    report_path = HERE / "reports" / role / "index.json"
    expected_path = HERE / "expected" / f"{role}.json"
    include, exclude = patterns("CASES"), patterns("CASES_EXCLUDE")
    restricted = bool(include or exclude)

    if not report_path.exists():
        sys.exit(f"{role}: no report at {report_path} (run conformance/autobahn.sh {role})")
    report = load_report(report_path)
    report = {k: v for k, v in report.items() if selected(k, include, exclude)}

    counts = Counter(c["behavior"] for c in report.values())
    close_counts = Counter(c["behaviorClose"] for c in report.values())
    show = lambda cnt: ", ".join(f"{k} {v}" for k, v in cnt.most_common())
    print(f"{role}: {len(report)} cases: {show(counts)}; close: {show(close_counts)}")

    problems = []
    if not restricted and len(report) != FULL_SUITE:
        problems.append(f"report has {len(report)} cases, the full suite is {FULL_SUITE}")

    if update:
        if problems:
            sys.exit(f"{role}: not updating: " + "; ".join(problems))
        expected = json.loads(expected_path.read_text()) if restricted and expected_path.exists() else {}
        expected = {k: v for k, v in expected.items() if not selected(k, include, exclude)}
        expected.update(report)
        write_expected(expected_path, expected)
        print(f"{role}: wrote {len(expected)} cases to {expected_path.relative_to(HERE.parent)}")
        return 0

    if not expected_path.exists():
        sys.exit(f"{role}: no {expected_path}; create it with: python3 conformance/compare.py {role} --update")
    expected = json.loads(expected_path.read_text())
    expected = {k: v for k, v in expected.items() if selected(k, include, exclude)}

    better = []
    for cid in sorted(set(expected) | set(report), key=case_key):
        want, got = expected.get(cid), report.get(cid)
        if got is None:
            problems.append(f"{cid}: missing from the report (expected {fmt(want)})")
        elif want is None:
            problems.append(f"{cid}: {fmt(got)}, not in {expected_path.name} (run with --update)")
        elif any(rank(got[f]) < rank(want[f]) for f in FIELDS):
            problems.append(f"{cid}: {fmt(got)}, expected {fmt(want)}")
        elif got != want:
            how = "better" if any(rank(got[f]) > rank(want[f]) for f in FIELDS) else "changed"
            better.append(f"{how}: {cid}: {fmt(got)}, expected {fmt(want)}")

    for line in better:
        print(f"  {line}")
    for line in problems:
        print(f"  FAIL {line}")
    if problems:
        print(f"{role}: {len(problems)} problem(s) against {expected_path.relative_to(HERE.parent)}")
        return 1
    print(f"{role}: matches {expected_path.relative_to(HERE.parent)} ({len(better)} changed, not worse)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
