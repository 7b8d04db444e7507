"""The code's layout: apps build on each other in one direction (billing on webhooks, on
notifications, on accounts), and no module imports, however indirectly, a module that imports it
back. ``make lint`` checks the first with import-linter too."""

import grimp
import pytest

APPS = ["accounts", "billing", "webhooks", "notifications", "creditcare"]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Imports under `if TYPE_CHECKING:` are for annotations only: never run, no cycle.
    return grimp.build_graph(*APPS, exclude_type_checking_imports=True, cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import cycles among the project's modules (migrations aside): Tarjan's strongly
    connected components with more than one module."""
    modules = {m for m in graph.modules if ".migrations" not in m}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while component[-1:] != [module]:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_a_module_that_imports_it_back(graph):
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("accounts", "billing"),
        ("accounts", "notifications"),
        ("accounts", "webhooks"),
        ("notifications", "billing"),
        ("notifications", "webhooks"),
        ("webhooks", "billing"),
    ],
)
def test_apps_build_on_each_other_in_one_direction(graph, importer, imported):
    assert not graph.chain_exists(importer=importer, imported=imported, as_packages=True)


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert cycles(graph) == [["a", "b"]]
