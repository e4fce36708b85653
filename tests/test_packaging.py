"""The project files agree with each other: one version, the package description, the console
command, the license, the dependency floors. `make package` (.ci/check_dist.py) checks the built
sdist and wheel themselves; these checks need no build.
"""
import configparser
import importlib
import os
import re
import subprocess
import sys

import albert_np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup_cfg():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    return config


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def test_one_version_string():
    assert setup_cfg()["metadata"]["version"] == "attr: albert_np.__version__"
    assert re.search(r"^version: " + re.escape(albert_np.__version__) + "$", read("CITATION.cff"), re.M)
    assert re.search(r"^## " + re.escape(albert_np.__version__) + "$", read("CHANGELOG.md"), re.M)
    literal = [line for line in read("setup.cfg").splitlines() if re.match(r"\s*version\s*=\s*\d", line)]
    assert literal == []


def test_the_package_description_has_no_relative_links():
    name = setup_cfg()["metadata"]["long_description"]
    assert name == "file: docs/package_description.md"
    text = read("docs/package_description.md")
    links = re.findall(r"\]\(([^)]*)\)|src=\"([^\"]*)\"", text)
    assert all(target.startswith(("https://", "http://")) for pair in links for target in pair if target), links


def test_the_console_command_is_the_module_main():
    scripts = setup_cfg()["options.entry_points"]["console_scripts"].strip()
    assert scripts == "albert-np = albert_np.__main__:main"
    module, function = scripts.split(" = ")[1].split(":")
    assert callable(getattr(importlib.import_module(module), function))
    done = subprocess.run([sys.executable, "-m", "albert_np", "--version"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.stdout.strip() == f"albert_np {albert_np.__version__}"


def test_license_files_and_metadata():
    metadata = setup_cfg()["metadata"]
    assert metadata["license"] == "Apache-2.0"
    assert metadata["license_files"].split() == ["LICENSE", "NOTICE"]
    assert "Apache License" in read("LICENSE") and "Version 2.0, January 2004" in read("LICENSE")
    notice = read("NOTICE")
    for needed in ("albert-tiny-en", "Wikipedia", "CC BY-SA 3.0", "Project Gutenberg"):
        assert needed in notice


def test_every_runtime_dependency_has_the_floor_ci_tests():
    sys.path.insert(0, os.path.join(ROOT, ".ci"))
    try:
        from lowest_requirements import lowest_requirements
    finally:
        sys.path.pop(0)
    required = [r.strip() for r in setup_cfg()["options"]["install_requires"].split("\n") if r.strip()]
    assert [r.replace(">=", "==") for r in required] == lowest_requirements()
    assert {r.split(">=")[0] for r in required} == {"numpy", "sentencepiece", "safetensors", "huggingface_hub"}


def test_the_sdist_ships_no_tests():
    manifest = read("MANIFEST.in").splitlines()
    assert "prune tests" in manifest and "prune tutorials" in manifest
