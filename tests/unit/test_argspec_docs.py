"""Every role's README table matches its argument spec, and defaults match the spec."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"

_spec = importlib.util.spec_from_file_location("argspec_docs", ROOT / "tools" / "argspec_docs.py")
argspec_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(argspec_docs)

ALL_ROLES = sorted(p.name for p in ROLES.iterdir() if p.is_dir())


def _load(path: Path) -> dict:
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def test_every_readme_table_is_current():
    assert argspec_docs.main(["--check", "--roles-dir", str(ROLES)]) == 0, \
        "a README is stale; run tools/argspec_docs.py"


@pytest.mark.parametrize("role", ALL_ROLES)
def test_defaults_and_spec_agree(role):
    defaults = _load(ROLES / role / "defaults" / "main.yml")
    spec_file = ROLES / role / "meta" / "argument_specs.yml"
    if not defaults and not spec_file.is_file():
        pytest.skip(f"{role} has neither defaults nor an argument spec")
    assert spec_file.is_file(), f"{role}: defaults/main.yml exists but meta/argument_specs.yml does not"
    options = (_load(spec_file).get("argument_specs", {}).get("main", {}) or {}).get("options") or {}
    undeclared = sorted(set(defaults) - set(options))
    assert not undeclared, f"{role}: defaults not declared in meta/argument_specs.yml: {undeclared}"
    missing = sorted(name for name, opt in options.items() if "default" in (opt or {}) and name not in defaults)
    assert not missing, f"{role}: spec options with a default but absent from defaults/main.yml: {missing}"
    differing = sorted(name for name, opt in options.items()
                       if "default" in (opt or {}) and name in defaults and opt["default"] != defaults[name])
    assert not differing, f"{role}: spec default differs from defaults/main.yml for {differing}"


def test_render_marks_required_choices_and_lists():
    spec = {"argument_specs": {"main": {"options": {
        "b_opt": {"type": "list", "elements": "str", "default": [], "description": "A | list."},
        "a_opt": {"type": "str", "required": True, "choices": ["x", "y"], "description": ["One.", "Two."]},
    }}}}
    table = argspec_docs.render(spec)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows[0] == "| `a_opt` | str | *required* | One. Two. Choices: `x`, `y`. |"
    assert rows[1] == "| `b_opt` | list of str | `[]` | A \\| list. |"


def test_check_reports_a_stale_readme(tmp_path):
    role = tmp_path / "demo"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(
        {"argument_specs": {"main": {"options": {"demo_x": {"type": "int", "default": 1, "description": "X."}}}}}))
    (role / "README.md").write_text(f"# demo\n{argspec_docs.BEGIN}\nold\n{argspec_docs.END}\n")
    assert argspec_docs.main(["--check", "--roles-dir", str(tmp_path)]) == 1
    assert argspec_docs.main(["--roles-dir", str(tmp_path)]) == 0
    assert "| `demo_x` | int | `1` | X. |" in (role / "README.md").read_text()
    assert argspec_docs.main(["--check", "--roles-dir", str(tmp_path)]) == 0
