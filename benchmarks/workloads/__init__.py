"""The benchmark registry: append a workload module's WORKLOAD here to add it to the suite."""

from harness import Workload

from workloads import imports, jacobian, lenet, lstm, lstm_cell, mlp, overhead

WORKLOADS: list[Workload] = [
    overhead.WORKLOAD,
    jacobian.WORKLOAD,
    imports.WORKLOAD,
    mlp.WORKLOAD,
    lenet.WORKLOAD,
    lstm.WORKLOAD,
    lstm_cell.WORKLOAD,
]
