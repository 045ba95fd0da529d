"""Answers over runs, as pure functions (frames and arrays in, plain values out): is one group of
runs better than another beyond noise (``significance``), which params matter (``importance``)."""
