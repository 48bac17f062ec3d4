"""Video input: list files and folders (lists.py), TSN sampling (sampling.py), decoding
and CLIP preprocessing (decode.py)."""
