"""The checked IR: a flat graph of op applications with resolved arguments and types."""

from nndsl.ir.flops import FlopCount, flops, graph_flops
from nndsl.ir.graph import (
    Graph,
    GraphInput,
    GraphOutput,
    Node,
    OpCall,
    Program,
    TrainConfig,
    Weight,
)
from nndsl.ir.loss import LossExpr

__all__ = [
    "FlopCount",
    "flops",
    "graph_flops",
    "Graph",
    "GraphInput",
    "GraphOutput",
    "LossExpr",
    "Node",
    "OpCall",
    "Program",
    "TrainConfig",
    "Weight",
]
