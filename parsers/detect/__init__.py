"""Content detectors: payload bytes to personal-data hits (pure functions, no storage)."""
