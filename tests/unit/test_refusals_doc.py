"""docs/refusals.md and the bad-input tests hold each other: every refusal the docs list has its
test case, and every bad-input case is in the list."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "refusals.md"
ROW = re.compile(r"^\| `(?P<id>[a-z0-9-]+)` \| .+ \| `(?P<test>[^`]+)` \|$")


def doc_rows() -> list[tuple[str, str]]:
    return [(m["id"], m["test"]) for line in DOC.read_text().splitlines() if (m := ROW.match(line))]


def case_ids(test_file: str) -> set[str]:
    """The keys of the module-level CASES dict of a test file (read, not imported)."""
    tree = ast.parse((REPO / test_file).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CASES" for t in node.targets):
            return {key.value for key in node.value.keys}
    raise AssertionError(f"{test_file} has no CASES dict")


def test_every_listed_refusal_has_its_case_and_every_case_is_listed() -> None:
    rows = doc_rows()
    assert len(rows) >= 20, "docs/refusals.md lists too few refusals: is the table still parsed?"
    assert len({i for i, _ in rows}) == len(rows), "an id is listed twice"
    for test_file in {t for _, t in rows}:
        listed = {i for i, t in rows if t == test_file}
        cases = case_ids(test_file)
        assert listed == cases, (f"{test_file}: listed but no case {sorted(listed - cases)}; "
                                 f"a case not listed {sorted(cases - listed)}")


def test_the_readme_points_at_the_list() -> None:
    assert "docs/refusals.md" in (REPO / "README.md").read_text()
