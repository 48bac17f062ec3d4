"""Frame features: a frozen CLIP visual encoder (encoder.py) run once per video, cached as
sharded memory-mappable arrays with an index (cache.py)."""
