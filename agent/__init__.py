"""The state machine: state, graph wiring, nodes, the gate, the planner, run configuration and the CLI."""
