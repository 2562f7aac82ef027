"""docs/architecture.md: "imports only point down". Every ganforge import (lazy ones inside
functions too; type-only ones under ``if TYPE_CHECKING:`` excepted) goes from a layer to the same
layer or one below it, except the few listed in EXCEPTIONS, each with the reason it is there.
"""

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "ganforge"

# Top to bottom, as docs/architecture.md draws them; a name is a module or package under
# ganforge/. A module may import from its own layer or from any layer below.
LAYERS = [
    ["__main__", "cli"],
    ["apps", "commands"],
    ["commandline"],
    ["tabular", "series"],
    ["run"],
    ["sampling"],
    ["pretrained"],
    ["training"],
    ["families"],
    ["objectives", "nets"],
    ["metrics"],
    ["data"],
    ["presets"],
    ["config"],
    ["images", "tiling", "io_checks"],
    ["errors", "__init__"],
]

# (importing module, imported module) -> why this import points up.
EXCEPTIONS = {
    ("ganforge.config", "ganforge.families"): "validation: the family settings tables live with "
    "their families (looked up at call time)",
    ("ganforge.config", "ganforge.nets.layers"): "validation: which DCGAN resolutions exist",
    ("ganforge.config", "ganforge.objectives"): "validation: the loss names live with the losses",
    ("ganforge.nets.srresnet", "ganforge.training.checkpoint"): "VGG19 weights load through the "
    "one safe torch-file reader (weights_only, the file's kind named)",
    ("ganforge.metrics.features.inception", "ganforge.training.checkpoint"): "the same reader "
    "for the Inception weights",
    ("ganforge.metrics.features.mnist", "ganforge.training.checkpoint"): "the same reader for "
    "the shipped MNIST classifier",
    ("ganforge.metrics.evaluate_run", "ganforge.sampling"): "`ganforge eval RUN` loads the run's "
    "generator (eval as a library call; its natural home is the run layer)",
}


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module}: in no layer of tests/test_layers.py (add it to LAYERS)")


def allowed(source: str, target: str) -> bool:
    """Whether module ``source`` may import module ``target``."""
    return _layer(target) >= _layer(source) or (source, target) in EXCEPTIONS


def _module_name(path: Path) -> str:
    parts = ("ganforge", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(text: str) -> list[tuple[str, int]]:
    """(imported ganforge module, line) for every import in ``text`` that can run."""
    tree = ast.parse(text)
    type_only = {
        n.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
        if isinstance(n, (ast.Import, ast.ImportFrom))
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in type_only:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.level or not node.module:
            continue
        elif node.module == "ganforge":  # from ganforge import objectives / __version__
            names = [f"ganforge.{a.name}" for a in node.names]
        else:
            names = [node.module]
        for name in names:
            if name == "ganforge" or name.startswith("ganforge."):
                top = name.split(".")[1] if "." in name else ""
                known = (SRC / top).is_dir() or (SRC / f"{top}.py").is_file()
                found.append((name if known else "ganforge", node.lineno))
    return found


def upward_imports() -> list[str]:
    """Every import in src/ganforge that points up and is not an exception."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        source = _module_name(path)
        for target, line in imports(path.read_text(encoding="utf-8")):
            if not allowed(source, target):
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {source} imports {target}")
    return bad


def test_imports_only_point_down():
    assert upward_imports() == []


def test_every_exception_is_still_needed():
    used = {
        (_module_name(p), target)
        for p in SRC.rglob("*.py")
        for target, _ in imports(p.read_text(encoding="utf-8"))
    }
    assert set(EXCEPTIONS) <= used, set(EXCEPTIONS) - used


def test_an_upward_import_is_caught_and_a_type_only_one_is_not():
    text = (
        "from typing import TYPE_CHECKING\n"
        "from ganforge.errors import GanforgeError\n"
        "if TYPE_CHECKING:\n"
        "    from ganforge.training.augment import Augment\n"
        "def f():\n"
        "    from ganforge.training.loop import Trainer\n"
    )
    found = imports(text)
    assert found == [("ganforge.errors", 2), ("ganforge.training.loop", 6)]
    assert allowed("ganforge.data.folder", "ganforge.errors")
    assert not allowed("ganforge.data.folder", "ganforge.training.loop")
    assert allowed("ganforge.training.loop", "ganforge.data.folder")


def test_every_layer_name_exists():
    for name in (n for names in LAYERS for n in names):
        assert (SRC / name).is_dir() or (SRC / f"{name}.py").is_file(), name
