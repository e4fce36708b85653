"""Type aliases of the public API's annotations, one definition each (a leaf: imports no albert_np module).

    NameOrPath   a Hub repo id ("owner/name") or a folder on this machine
    PathLike     a file or folder on this machine
    Texts        one text, or a sequence of texts
    ArrayLike    anything numpy.asarray takes (lists of ints, arrays, ...)
"""
import os
from typing import Sequence, Union

import numpy.typing as npt

NameOrPath = Union[str, os.PathLike]
PathLike = Union[str, os.PathLike]
Texts = Union[str, Sequence[str]]
ArrayLike = npt.ArrayLike
