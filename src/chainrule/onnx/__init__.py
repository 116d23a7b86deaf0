"""ONNX export and import on the onnx package (``pip install chainrule[onnx]``).

Importing this package does not import onnx; ``export`` and ``load`` do, and name the extra
when it is missing.
"""

from __future__ import annotations

from chainrule.onnx._deps import UnsupportedOpError
from chainrule.onnx.export import export
from chainrule.onnx.load import OnnxModule, load

__all__ = ["OnnxModule", "UnsupportedOpError", "export", "load"]
