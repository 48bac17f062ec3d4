"""Sharing bundles between labs: pack into one deterministic archive (pack.py), unpack
safely (unpack.py), and say what changed between two bundles (diff.py). docs/sharing.md."""

from corpus.share.diff import diff_bundles, diff_is_empty, render_diff
from corpus.share.pack import pack_bundle
from corpus.share.unpack import UnpackLimits, unpack_bundle

__all__ = ["UnpackLimits", "diff_bundles", "diff_is_empty", "pack_bundle", "render_diff",
           "unpack_bundle"]
