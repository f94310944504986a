"""Judging stored measures against the rule packs, and the evidence packets behind a finding."""
