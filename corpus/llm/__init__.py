"""The LLM layer: one client for any OpenAI-compatible endpoint, and the embedded server."""
