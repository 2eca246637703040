"""Speed: pure statistics, CUDA-graph timing, the sweep, the verdicts, the pytest-benchmark bridge."""
