"""torch.onnx: chainrule.onnx's export (and load), resolved on first use."""

from __future__ import annotations

from chainrule.torch._missing import namespace_getattr

__all__: list[str] = []

__getattr__ = namespace_getattr(__name__, sources=("chainrule.onnx",))
