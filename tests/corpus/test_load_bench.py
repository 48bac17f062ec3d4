"""The load benchmark's own path, small: every request answered, counted and timed."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_load_bench_runs_every_request_through_the_pipeline_path(tmp_path):
    out = tmp_path / "load.json"
    subprocess.run([sys.executable, "-m", "bench.load_bench", "--classes", "6",
                    "--concurrency", "1", "4", "--latency-ms", "5", "--out", str(out)],
                   cwd=REPO, check=True, capture_output=True, text=True)
    result = json.loads(out.read_text())
    assert [lv["concurrency_per_endpoint"] for lv in result["levels"]] == [1, 4]
    for level in result["levels"]:
        # 6 classes × 4 prompts × 3 models, each a valid set on the first request
        assert level["requests"] == level["candidate_sets"] == 72
        assert level["failed_sets"] == level["invalid_replies"] == 0
        assert level["max_in_flight"] == 3 * level["concurrency_per_endpoint"]
        assert 0 < level["ratio_vs_ideal"] <= 1.05
        assert level["peak_rss_mib"] > 0
    assert result["endpoint_answered"]["ok"] == 144
