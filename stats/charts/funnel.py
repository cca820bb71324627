"""The drawing of a funnel (/api/funnels): one bar per step, the users who reached it,
labelled with their share of the first step."""

from typing import Any

from stats.charts import style
from stats.charts.spec import ChartSpec
from stats.charts.style import with_matplotlib


@with_matplotlib
def draw_funnel(answer: dict[str, Any], *, spec: ChartSpec) -> bytes:
    from matplotlib.ticker import MaxNLocator

    steps = answer["steps"]
    fig, ax = style.figure(spec.width, spec.height)
    users = [step["users"] for step in steps]
    bars = ax.bar(range(len(steps)), users, color=style.BAR_COLOR, width=0.6)
    shares = [step["conversion_from_first"] for step in steps]
    labels = [
        f"{count:,}" + ("" if share is None else f"\n{share:.0%}")
        for count, share in zip(users, shares, strict=True)
    ]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
    room, _ = style.layout_size(spec.width, spec.height)
    longest = max(8, int(room / len(steps) / 7))  # characters an 8-point tick label fits
    names = [f"{step['step']}. {style.label(step['event'])}" for step in steps]
    ax.set_xticks(range(len(steps)), labels=[name[:longest] for name in names])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(style.thousands())
    ax.set_ylim(0, max(max(users, default=0) * 1.2, 1))
    ax.set_ylabel("Users", fontsize=9)
    style.titles(ax, f"Funnel of {len(steps)} steps", spec.caption)
    if not users or not users[0]:
        style.no_data(ax, "No user entered the funnel in this range")
    return style.png(fig)
