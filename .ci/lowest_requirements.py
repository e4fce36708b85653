"""Print the lowest supported runtime dependencies: setup.cfg's install_requires with each floor pinned.

    numpy>=1.22  ->  numpy==1.22

`make lowest` installs these into .venv-lowest, so the floors that setup.cfg declares are the
versions that are tested. A requirement without a ">=" floor is an error.
"""
import configparser
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lowest_requirements(setup_cfg=os.path.join(ROOT, "setup.cfg")):
    config = configparser.ConfigParser()
    config.read(setup_cfg)
    pins = []
    for line in config["options"]["install_requires"].split("\n"):
        requirement = line.split("#")[0].strip()
        if not requirement:
            continue
        if ">=" not in requirement or any(op in requirement for op in ("<", "==", "!=", "~=", ",")):
            sys.exit(f"{setup_cfg}: {requirement!r} needs exactly one floor, name>=version")
        name, floor = requirement.split(">=")
        pins.append(f"{name.strip()}=={floor.strip()}")
    return pins


if __name__ == "__main__":
    print(" ".join(lowest_requirements()))
