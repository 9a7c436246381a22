"""Layer `perf`: `kraft bench` (produce and consume load generators, percentile stats).

May import: every layer below cli (it drives a cluster through kraft.client and HTTP).
"""
