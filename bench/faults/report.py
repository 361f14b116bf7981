"""The results table (Markdown), with the issue's columns and a notes column."""

from __future__ import annotations

from bench.faults.scenarios import Row


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(Row.COLUMNS) + " |", "|" + " --- |" * len(Row.COLUMNS)]
    lines += ["| " + " | ".join(_cell(c) for c in row.cells()) + " |" for row in rows]
    return "\n".join(lines)
