"""Reports: metrics over the metric events and their daily rollup, charts, exports (#15)."""
