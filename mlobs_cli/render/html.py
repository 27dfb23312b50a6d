"""HTML drift report (placeholder, replaced by the HTML helper)."""
