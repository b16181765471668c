"""How the stack runs: each process's entry point, the scheduler and its jobs, the dev stack."""
