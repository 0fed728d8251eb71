"""How fast we may go: per-app budgets, usage-driven pacing and the retry policy. Knows nothing of what is fetched."""
