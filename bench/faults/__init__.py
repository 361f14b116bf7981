"""The fault harness (issue 9): outages, restarts, duplicates and fuzzing against the real servers."""
