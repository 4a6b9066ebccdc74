"""The committee's report: figures over a period, computed in PostgreSQL."""
