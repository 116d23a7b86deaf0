"""`chainrule export`: a trained run's model as an ONNX file, its input shape from the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.onnx.export import export


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
    x0 = np.asarray(run.test_set[0][0], dtype=np.float32)
    path = Path(out) if out is not None else run_dir / "model.onnx"
    export(run.model, (x0[None],), str(path), input_names=["input"], output_names=["output"],
           dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
           opset_version=opset_version)
    return path
