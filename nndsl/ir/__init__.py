"""The checked IR: a flat graph of op applications with resolved arguments and types."""

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

__all__ = [
    "Graph",
    "GraphInput",
    "GraphOutput",
    "Node",
    "OpCall",
    "Program",
    "TrainConfig",
    "Weight",
]
