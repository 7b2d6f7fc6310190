"""The layering holds: no import cycles (imports inside functions included), every import made
inside a function says why, and import-linter's contracts (pyproject.toml) catch a forbidden
import. docs/architecture.md draws the layers."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lib", "accounts", "reports", "moderation", "config")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _target(importer: str, node: ast.ImportFrom | ast.Import, alias: ast.alias) -> str | None:
    """The project module an import names (`from pkg import module` names the module)."""
    if isinstance(node, ast.Import):
        name = alias.name
    else:
        base = node.module or ""
        if node.level:
            parts = importer.split(".")
            if not str(MODULES[importer]).endswith("__init__.py"):
                parts = parts[:-1]
            base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
        name = f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str):
    """(target module, line, inside a function, the source lines) for each project import."""
    source = MODULES[module].read_text()
    lines = source.splitlines()

    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for alias in child.names:
                    yield child, alias, in_function, lines
            yield from walk(
                child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            )

    for node, alias, in_function, lines in walk(ast.parse(source), False):
        yield node, _target(module, node, alias), in_function, lines


def _is_job_calling_its_service(importer: str, target: str, in_function: bool) -> bool:
    """The one cycle the layering allows (HackSoft's styleguide): a service imports its job at
    module level to enqueue it, and the job imports the service when it runs."""
    domain = importer.rpartition(".")[0]
    return in_function and importer.endswith(".jobs") and target.startswith(domain + ".")


def _graph() -> dict[str, set[str]]:
    graph = {m: set() for m in MODULES}
    for module in MODULES:
        for _node, target, in_function, _lines in _imports(module):
            allowed = target and _is_job_calling_its_service(module, target, in_function)
            if target and target != module and not allowed:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_it_finds_no_import_cycle_even_through_imports_inside_functions():
    assert _cycles(_graph()) == []


def test_the_cycle_check_sees_a_cycle_through_an_import_inside_a_function():
    graph = _graph()
    graph["moderation.cases.models"].add("moderation.review.services")
    assert any("moderation.cases.models" in c for c in _cycles(graph))


def test_every_import_inside_a_function_says_why():
    silent = []
    for module, path in MODULES.items():
        for node, _target_module, in_function, lines in _imports(module):
            if not in_function:
                continue
            line, above = lines[node.lineno - 1], lines[node.lineno - 2].strip()
            if "#" not in line and not above.startswith("#"):
                silent.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    assert silent == [], "Import at module level, or say why in a comment:\n" + "\n".join(
        sorted(set(silent))
    )


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def tree_copy(tmp_path) -> Path:
    """The project's packages and contracts, copied, for a change the real tree must not see."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "module, forbidden, contract",
    [
        # A lower domain reaching up.
        ("moderation/cases/routing.py", "from moderation.review import services", "layers"),
        # A models module importing a service.
        ("moderation/cases/models.py", "from moderation.cases import services", "models"),
        # lib importing an app.
        ("lib/text.py", "from accounts import roles", "lib"),
        # Moderation importing reports' intake.
        ("moderation/banks/matching.py", "from reports import services", "intake"),
        # Reports' records importing moderation.
        ("reports/models.py", "from moderation.audit import services", "records"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tree_copy, module, forbidden, contract):
    path = tree_copy / module
    path.write_text(path.read_text() + f"\n{forbidden}  # noqa\n")
    result = _lint_imports(tree_copy)
    assert result.returncode != 0
    names = {
        "layers": "Vigil's layers",
        "models": "A models module imports nothing above lib",
        "lib": "lib imports no app",
        "intake": "moderation imports nothing from reports' intake",
        "records": "Reports' records",
    }
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert names[contract] in broken, result.stdout
