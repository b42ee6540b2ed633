"""merging specs (filled in by the catalogue work of issue 3)."""
