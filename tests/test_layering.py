"""The package's layering: a config, a tokenizer or a file-format reader never imports the network.

The check reads the import statements of the package's own files (ast, nothing is
imported) and follows them transitively, module to module. `albert_np/__init__.py`
is not followed: it re-exports everything for users, and the rule is about what
each module itself needs. A subpackage's `__init__.py` is followed like any module
(importing `..tokenization` runs it).
"""
import ast
import os

import pytest

import albert_np

PACKAGE_DIR = os.path.dirname(albert_np.__file__)

# The network (and what runs it): what a config, a tokenizer or a file reader must never reach.
NETWORK = {"albert_np.heads", "albert_np.model", "albert_np.backprop", "albert_np.losses", "albert_np.step",
           "albert_np.modeling", "albert_np.training"}


def module_files(root=PACKAGE_DIR):
    """{dotted module name: file path} of every .py file in the package at `root`."""
    files = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(folder, os.path.dirname(root)).replace(os.sep, ".")
        for name in names:
            if name.endswith(".py"):
                mod = rel if name == "__init__.py" else f"{rel}.{name[:-3]}"
                files[mod] = os.path.join(folder, name)
    return files


def imported_modules(module, path, files):
    """The package modules whose import statements in `path` (module `module`) name."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    is_package = path.endswith("__init__.py")
    parts = module.split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == parts[0]]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == parts[0]:
                prefix = node.module
            else:
                continue
            # `from . import x` / `from .pkg import y`: y may be a module or a name in pkg
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in files else prefix for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in files:      # a name inside a module: the module
                name = name.rpartition(".")[0]
            if name and name != parts[0]:          # the package's own __init__ is not followed
                found.add(name)
    return found


def import_chains(start, files):
    """{module reached: the chain of imports from `start` to it} (breadth first: shortest chains)."""
    chains, todo = {start: [start]}, [start]
    while todo:
        mod = todo.pop(0)
        for dep in sorted(imported_modules(mod, files[mod], files)):
            if dep not in chains:
                chains[dep] = chains[mod] + [dep]
                todo.append(dep)
    return chains


def leaf_modules(files):
    """The modules that must stay leaves: the config, the tokenizers, hub/io, every file-format reader."""
    leaves = {"albert_np.config", "albert_np.hub", "albert_np.io", "albert_np.formats.protobuf_wire"}
    for mod in files:
        if mod.startswith(("albert_np.tokenization", "albert_np.formats")):
            leaves.add(mod)
    return sorted(leaves)


FILES = module_files()


@pytest.mark.parametrize("module", leaf_modules(FILES))
def test_leaves_never_import_the_network(module):
    chains = import_chains(module, FILES)
    broken = {m: chains[m] for m in chains if m in NETWORK or m.startswith("albert_np.training.")}
    assert not broken, "\n".join(f"{module} reaches {m}: " + " -> ".join(c) for m, c in broken.items())


def test_the_walk_follows_relative_imports():
    # the walk itself must see real imports, or the test above proves nothing
    chains = import_chains("albert_np.modeling", FILES)
    assert "albert_np.model" in chains and "albert_np.ops" in chains
    assert "albert_np.config" in chains and "albert_np.hub" in chains
    assert import_chains("albert_np.model", FILES)["albert_np.ops"] == ["albert_np.model", "albert_np.ops"]
    # a tokenizer reaches its package's own modules
    assert "albert_np.tokenization.normalization" in import_chains("albert_np.tokenization.slow", FILES)


def test_the_walk_reports_a_chain(tmp_path):
    # a made-up package whose config imports a reader that imports the model: the chain is named
    pkg = tmp_path / "albert_np"
    (pkg / "formats").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .config import X\n")
    (pkg / "config.py").write_text("from .formats.reader import read\n")
    (pkg / "formats" / "__init__.py").write_text("")
    (pkg / "formats" / "reader.py").write_text("import numpy\nfrom .. import model\n")
    (pkg / "model.py").write_text("from .ops import linear\n")
    (pkg / "ops.py").write_text("import numpy as np\n")
    files = module_files(str(pkg))
    chains = import_chains("albert_np.config", files)
    assert chains["albert_np.model"] == ["albert_np.config", "albert_np.formats.reader", "albert_np.model"]
    assert "albert_np" not in chains                      # the package __init__ is not followed
