"""The backend's layers import downwards only; checked on the source with ``ast`` (nothing is imported).

* ``backend.domain`` (the contract: scenario, risk levels, the LLM answer) imports no other backend package:
  not services, api, config, evaluation, db or models.
* ``backend.services`` imports neither ``backend.api`` nor ``backend.evaluation``; of ``backend.config`` it
  reads ``backend.config.settings`` only.
* ``backend.evaluation`` is imported only by itself and the CLI entry points (``backend/__main__.py``,
  ``backend/demo.py``); bench/ and tests/ are not scanned.

Every import counts, wherever it stands (a function body, ``if TYPE_CHECKING:``): a lazy import is still a
dependency. All violations are reported at once, as ``file:line: importer imports target``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"


@dataclass(frozen=True)
class Rule:
    importers: tuple[str, ...]  # modules the rule applies to (a package covers its submodules)
    forbidden: tuple[str, ...]  # what they must not import
    allowed: tuple[str, ...] = ()  # exceptions inside ``forbidden``
    exempt: tuple[str, ...] = ()  # importers the rule leaves alone
    why: str = ""


RULES = (
    Rule(
        importers=("backend.domain",),
        forbidden=(
            "backend.services",
            "backend.api",
            "backend.config",
            "backend.evaluation",
            "backend.db",
            "backend.models",
        ),
        why="the domain is the bottom layer",
    ),
    Rule(
        importers=("backend.services",),
        forbidden=("backend.api", "backend.evaluation", "backend.config"),
        allowed=("backend.config.settings",),
        why="services sit below the API and the evaluation, and read only the settings of backend.config",
    ),
    Rule(
        importers=("backend",),
        forbidden=("backend.evaluation",),
        exempt=("backend.evaluation", "backend.__main__", "backend.demo"),
        why="only the evaluation itself and the CLI entry points use the evaluation",
    ),
)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of everything the module imports; ``from a import b`` gives ``a.b``, which is the
    submodule or a name inside ``a`` (either way within ``a``); relative imports are resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            for alias in node.names:
                found.append((node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"))
    return found


def violations(source: str, module: str, *, is_package: bool = False, where: str = "") -> list[str]:
    tree = ast.parse(source, filename=where or module)
    out = []
    for line, target in imported_names(tree, module, is_package):
        for rule in RULES:
            if not _within(module, rule.importers) or _within(module, rule.exempt):
                continue
            if _within(target, rule.forbidden) and not _within(target, rule.allowed):
                out.append(f"{where or module}:{line}: {module} imports {target} ({rule.why})")
                break  # one line per import, under the first rule it breaks
    return out


def backend_modules() -> list[Path]:
    return sorted(p for p in BACKEND.rglob("*.py") if ".venv" not in p.parts)


def test_backend_imports_point_downwards() -> None:
    found: list[str] = []
    for path in backend_modules():
        found.extend(
            violations(
                path.read_text(encoding="utf-8"),
                module_name(path),
                is_package=path.name == "__init__.py",
                where=str(path.relative_to(ROOT)),
            )
        )
    if found:
        pytest.fail(f"{len(found)} import(s) against the layer direction:\n" + "\n".join(found), pytrace=False)


def test_the_scan_sees_the_tree() -> None:
    names = {module_name(p) for p in backend_modules()}
    assert {"backend.domain.scenario", "backend.services.batcher", "backend.api.app", "backend.__main__"} <= names


@pytest.mark.parametrize(
    ("module", "source", "is_package", "expected"),
    [
        ("backend.domain.x", "from backend.models import Event", False, ["backend.models.Event"]),
        ("backend.domain.x", "import backend.config.settings", False, ["backend.config.settings"]),
        ("backend.domain.x", "from backend import db", False, ["backend.db"]),
        ("backend.domain.x", "from ..services import metrics", False, ["backend.services.metrics"]),
        ("backend.domain", "from ..api.schemas import events", True, ["backend.api.schemas.events"]),
        ("backend.domain.x", "from .risk_levels import RiskLevel", False, []),
        ("backend.services.x", "from backend.config.settings import get_settings", False, []),
        ("backend.services.x", "from backend.config import settings", False, []),
        ("backend.services.x", "from backend.config import prompt_variants", False, ["backend.config.prompt_variants"]),
        (
            "backend.services.x",
            "def f():\n    from backend.api.schemas.events import event_message",
            False,
            ["backend.api.schemas.events.event_message"],
        ),
        (
            "backend.services.x",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import backend.evaluation",
            False,
            ["backend.evaluation"],
        ),
        (
            "backend.services.x",
            "from backend.models import Event\nfrom backend.db.session import run_unit_of_work",
            False,
            [],
        ),
        ("backend.api.app", "from backend.evaluation.cli import register", False, ["backend.evaluation.cli.register"]),
        ("backend.api.app", "from backend.services.batcher import Batcher", False, []),
        ("backend.__main__", "from backend.evaluation.cli import register", False, []),
        ("backend.demo", "import backend.evaluation", False, []),
        ("backend.evaluation.cli", "from .eval_runner import run_predictions", False, []),
        ("backend.evaluationx", "from backend.evaluation import cli", False, ["backend.evaluation.cli"]),
    ],
)
def test_the_rules(module: str, source: str, is_package: bool, expected: list[str]) -> None:
    got = violations(source, module, is_package=is_package)
    assert [v.split(" imports ")[1].split(" (")[0] for v in got] == expected, got
