"""Check the sdist and the wheel that `make package` built, and list what they hold.

    python .ci/check_dist.py build/dist

The wheel: the package with py.typed, the bundled model and the explain page, LICENSE and
NOTICE, the `albert-np` console command, metadata (license, Python floor, dependency floors)
and a description without relative links; no tests. The sdist: what builds the wheel, and no
tests (they need the repository's fixtures, tutorials and shared data). Then the wheel is
installed into a temporary folder and its console command and bundled model are run.
"""
import email
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "albert_np/pretrained/albert-tiny-en/"
WHEEL_MUST = ["albert_np/__init__.py", "albert_np/py.typed", "albert_np/explain_page.html",
              "albert_np/explain_page.css", "albert_np/explain_page.js"] + [MODEL + f for f in (
                  "README.md", "config.json", "model.safetensors", "spiece.model", "tokenizer.json",
                  "tokenizer_config.json", "special_tokens_map.json")]
SDIST_MUST = ["LICENSE", "NOTICE", "README.md", "CHANGELOG.md", "CONTRIBUTING.md", "CITATION.cff", "setup.cfg",
              "pyproject.toml", "MANIFEST.in", "docs/package_description.md"] + WHEEL_MUST
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#)[^)]*\)|src=\"(?!https?://)")


def version():
    with open(os.path.join(ROOT, "albert_np", "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def fail(message):
    sys.exit(f"check_dist: {message}")


def check_wheel(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(z.read(info))
        entry_points = z.read(info.replace("METADATA", "entry_points.txt")).decode()
    for name in WHEEL_MUST:
        if name not in names:
            fail(f"{os.path.basename(path)} lacks {name}")
    for name in ("LICENSE", "NOTICE"):
        if not any(n.endswith(f".dist-info/licenses/{name}") for n in names):
            fail(f"{os.path.basename(path)} lacks {name} in its dist-info")
    if any(n.startswith(("tests/", "tutorials/")) for n in names):
        fail("the wheel holds tests or tutorials")
    if "albert-np = albert_np.__main__:main" not in entry_points:
        fail(f"no albert-np console command in entry_points.txt:\n{entry_points}")
    if meta["Version"] != version() or meta["License"] != "Apache-2.0" or meta["Requires-Python"] != ">=3.9":
        fail(f"metadata: Version {meta['Version']}, License {meta['License']}, Requires-Python "
             f"{meta['Requires-Python']}")
    description = meta.get_payload()
    if RELATIVE_LINK.search(description):
        fail(f"the package description has a relative link: {RELATIVE_LINK.search(description).group()}")
    print(f"wheel {os.path.basename(path)}: {len(names)} files, {os.path.getsize(path) / 1e6:.1f} MB")
    print("  Requires-Dist (runtime):", ", ".join(r for r in meta.get_all("Requires-Dist") if "extra ==" not in r))
    print("  Classifier:", "; ".join(meta.get_all("Classifier")))
    print("  License:", meta["License"], "| License-File:", ", ".join(meta.get_all("License-File")),
          "| Requires-Python:", meta["Requires-Python"])
    print("  files outside albert_np/*.py:", ", ".join(sorted(n for n in names if not (
        n.startswith("albert_np/") and n.endswith(".py")))))
    return names


def check_sdist(path):
    with tarfile.open(path) as t:
        top = t.getnames()[0].split("/")[0]
        names = [n[len(top) + 1:] for n in t.getnames() if n != top]
    for name in SDIST_MUST:
        if name not in names:
            fail(f"{os.path.basename(path)} lacks {name}")
    if any(n.startswith(("tests/", "tutorials/", ".ci/")) for n in names):
        fail("the sdist holds tests, tutorials or CI files")
    print(f"sdist {os.path.basename(path)}: {len(names)} entries, {os.path.getsize(path) / 1e6:.1f} MB")
    print("  top level:", ", ".join(sorted({n.split("/")[0] for n in names})))


def run_installed(wheel):
    """Install the wheel (no dependencies: this Python has them) into a temporary folder and run it."""
    with tempfile.TemporaryDirectory() as target:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                        "--target", target, wheel], check=True)
        env = {**os.environ, "PYTHONPATH": target, "HF_HUB_OFFLINE": "1"}
        script = os.path.join(target, "bin", "albert-np")
        out = subprocess.run([sys.executable, script, "--version"], capture_output=True, text=True, env=env,
                             cwd=target, check=True).stdout.strip()
        if out != f"albert_np {version()}":
            fail(f"albert-np --version printed {out!r}")
        fill = subprocess.run([sys.executable, script, "fill-mask", "The capital of France is [MASK].", "--top-k",
                               "1", "--json"], capture_output=True, text=True, env=env, cwd=target)
        if fill.returncode != 0 or target not in subprocess.run(
                [sys.executable, "-c", "import albert_np; print(albert_np.__file__)"], capture_output=True,
                text=True, env=env, cwd=target).stdout:
            fail(f"the installed wheel's fill-mask failed: {fill.stderr[-500:]}")
        best = json.loads(fill.stdout)[0]
        print(f"installed wheel: `albert-np --version` -> {out}; `albert-np fill-mask \"The capital of France is "
              f"[MASK].\" --top-k 1` -> {best['token_str']!r} {best['score']:.4f} (the bundled model, offline)")


def main(folder):
    files = sorted(os.listdir(folder))
    wheels = [os.path.join(folder, f) for f in files if f.endswith(".whl")]
    sdists = [os.path.join(folder, f) for f in files if f.endswith(".tar.gz")]
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"expected one wheel and one sdist in {folder}, found {files}")
    check_wheel(wheels[0])
    check_sdist(sdists[0])
    run_installed(wheels[0])
    print("check_dist: OK")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "dist"))
