"""PNG charts of the stats routes, drawn by matplotlib from the JSON answer's own data.

Layers, each importing only those before it: `spec` (what decides the pixels),
`style` (matplotlib loaded under a lock; the house figure, axes and labels),
`drawings` and `daily` (one function per chart), `render` (the chart registry,
ETag, per-process cache and the DRF renderer).
"""
