"""Prefect flows that orchestrate the `corpus` library."""
