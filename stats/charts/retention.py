"""The drawing of a retention table (/api/retention): a heat map, one row per cohort,
one column per period after it, each cell the share of the cohort that returned."""

from typing import Any

from stats.charts import style
from stats.charts.spec import ChartSpec
from stats.charts.style import with_matplotlib


@with_matplotlib
def draw_retention(answer: dict[str, Any], *, spec: ChartSpec) -> bytes:
    cohorts = answer["cohorts"]
    fig, ax = style.figure(spec.width, spec.height)
    ax.grid(False)
    width = max((len(row["shares"]) for row in cohorts), default=1)
    # Cells of periods still to come stay blank (NaN), so the table is a triangle.
    # An empty cohort's shares are None: blank too.
    grid = [
        [float("nan") if share is None else share for share in row["shares"]]
        + [float("nan")] * (width - len(row["shares"]))
        for row in cohorts
    ]
    if cohorts:
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        _, room = style.layout_size(spec.width, spec.height)
        if room / max(len(cohorts), 1) >= 14 and spec.width / width >= 34:
            for y, row in enumerate(cohorts):
                for x, share in enumerate(row["shares"]):
                    if share is None:
                        continue
                    color = "white" if share > 0.6 else style.TEXT_COLOR
                    ax.text(x, y, f"{share:.0%}", ha="center", va="center", fontsize=7, color=color)
    ax.set_yticks(range(len(cohorts)), labels=[f"{r['cohort']} ({r['users']:,})" for r in cohorts])
    ax.set_xticks(range(width), labels=[str(offset) for offset in range(width)])
    ax.set_xlabel(f"{answer['period'].capitalize()}s after the cohort's", fontsize=9)
    ax.set_ylabel("Cohort (users)", fontsize=9)
    style.titles(ax, "Retention", spec.caption)
    if not any(row["users"] for row in cohorts):
        style.no_data(ax, "No cohort in this range")
    return style.png(fig)
