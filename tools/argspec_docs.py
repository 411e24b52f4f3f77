#!/usr/bin/env python3
"""Render each role's variable table from roles/<role>/meta/argument_specs.yml into its README.

The table goes between the markers

    <!-- BEGIN ARGSPEC -->
    <!-- END ARGSPEC -->

in roles/<role>/README.md, so the documentation cannot drift from the spec that validates the
role's input. Usage:

    tools/argspec_docs.py [--roles-dir roles] [ROLE ...]           rewrite the READMEs
    tools/argspec_docs.py --check [--roles-dir roles] [ROLE ...]   exit 1 if any README is stale

Roles without meta/argument_specs.yml are skipped. Works for any role; the entry point
documented is 'main' (other entry points get their own table under a heading).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

BEGIN = "<!-- BEGIN ARGSPEC -->"
END = "<!-- END ARGSPEC -->"


def _cell(text: str) -> str:
    """Make text safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(option: dict) -> str:
    if "default" not in option:
        return "*required*" if option.get("required") else "—"
    value = option["default"]
    if isinstance(value, str):
        return f"`{_cell(value)}`" if value != "" else '`""`'
    return f"`{_cell(json.dumps(value))}`"


def _type(option: dict) -> str:
    kind = option.get("type", "str")
    if kind == "list" and "elements" in option:
        kind = f"list of {option['elements']}"
    return kind


def _description(option: dict) -> str:
    text = option.get("description", "")
    if isinstance(text, list):
        text = " ".join(str(part) for part in text)
    text = _cell(text)
    if option.get("choices"):
        text += " Choices: " + ", ".join(f"`{c}`" for c in option["choices"]) + "."
    return text


def render(spec: dict) -> str:
    """The Markdown for a parsed argument_specs.yml."""
    entry_points = (spec or {}).get("argument_specs") or {}
    parts: list[str] = []
    names = sorted(entry_points, key=lambda n: (n != "main", n))
    for name in names:
        entry = entry_points[name] or {}
        if len(names) > 1 or name != "main":
            parts.append(f"#### Entry point `{name}`\n")
        options = entry.get("options") or {}
        lines = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for option_name in sorted(options):
            option = options[option_name] or {}
            lines.append(f"| `{option_name}` | {_type(option)} | {_default(option)} | {_description(option)} |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def update(readme_text: str, table: str) -> str:
    """readme_text with the block between the markers replaced; ValueError without markers."""
    start = readme_text.find(BEGIN)
    end = readme_text.find(END)
    if start == -1 or end == -1 or end < start:
        raise ValueError(f"missing {BEGIN} / {END} markers")
    return readme_text[:start + len(BEGIN)] + "\n" + table + readme_text[end:]


def roles_with_specs(roles_dir: Path, names: list[str] | None = None) -> list[Path]:
    candidates = [roles_dir / n for n in names] if names else sorted(p for p in roles_dir.iterdir() if p.is_dir())
    return [r for r in candidates if (r / "meta" / "argument_specs.yml").is_file()]


def process(role: Path, check: bool) -> str | None:
    """Update (or, with check, compare) one role's README; returns a problem or None."""
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    readme = role / "README.md"
    if not readme.is_file():
        return f"{readme}: missing (add one with {BEGIN} and {END} markers)"
    text = readme.read_text(encoding="utf-8")
    try:
        wanted = update(text, render(spec))
    except ValueError as exc:
        return f"{readme}: {exc}"
    if wanted == text:
        return None
    if check:
        return f"{readme}: variable table is stale; run tools/argspec_docs.py {role.name}"
    readme.write_text(wanted, encoding="utf-8")
    print(f"updated {readme}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("roles", nargs="*", help="role names (default: every role with an argument spec)")
    parser.add_argument("--roles-dir", type=Path, default=Path(__file__).resolve().parent.parent / "roles")
    parser.add_argument("--check", action="store_true", help="only report stale READMEs (exit 1)")
    args = parser.parse_args(argv)
    problems = [p for role in roles_with_specs(args.roles_dir, args.roles) if (p := process(role, args.check))]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
