"""`chainrule export`: a trained run's model as an ONNX file, its input shape from the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.backend import asnumpy
from chainrule.onnx.export import export
from chainrule.tensor import Tensor


def export_run(run_dir: str | Path, out: str | Path | None = None, opset_version: int = 17
               ) -> Path:
    """Write the checkpointed model of run_dir to out (default RUN_DIR/model.onnx).

    The graph takes a float32 batch of the run's inputs (dynamic batch axis, named ``input``)
    and returns the logits (``output``).
    """
    from chainrule.training import TrainError, _Run, config_of, read_checkpoint

    run_dir = Path(run_dir)
    state = read_checkpoint(run_dir)
    run = _Run(config_of(state))  # the model exactly as training built it
    try:
        run.model.load_state_dict(state["model"])
    except (KeyError, ValueError, RuntimeError) as e:
        raise TrainError(f"corrupt checkpoint in {str(run_dir)!r}: {e}") from None
    x0 = run.test_set[0][0]
    x0 = np.asarray(asnumpy(getattr(x0, "_data", x0)), dtype=np.float32)  # on the host
    path = Path(out) if out is not None else run_dir / "model.onnx"
    x = Tensor(x0[None]).to(run.device)  # where the model is
    export(run.model, (x,), str(path), input_names=["input"], output_names=["output"],
           dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
           opset_version=opset_version)
    return path
