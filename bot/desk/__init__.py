"""The support desk: agents, the handoff queue they work, the operations figures."""
