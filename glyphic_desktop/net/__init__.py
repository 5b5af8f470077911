"""Network helpers shared by node types and credential checks (no Qt, no database)."""
