"""The data audit: undecodable photos, near-duplicates, suspect labels, a page to review them and
corrections turned into new split files (audit.py)."""
