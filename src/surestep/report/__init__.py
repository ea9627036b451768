"""Human-facing output: terminal tables (and, later, HTML reports and figures)."""
