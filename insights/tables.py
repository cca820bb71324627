"""Insight answers as tables, for the pages that show them."""

# The rows a page shows of one answer; the rest are in its data (JSON, CSV). A query may
# answer 100,000 rows (insights.spec.MAX_ROWS): tens of megabytes of HTML for one tile.
PAGE_ROWS = 500


def answer_table(answer: dict, limit: int = PAGE_ROWS) -> dict | None:
    """An insight's answer as {header, rows, more} for a page: readable without images or
    scripts, its first `limit` rows and how many more the answer has. None for an answer
    that is no table (an error)."""
    if "rows" in answer:
        header, rows = answer["columns"], answer["rows"]
        shown = [[row[c] for c in header] for row in rows[:limit]]
    elif "steps" in answer:
        header = ["step", "event", "users", "conversion_from_first", "median_seconds"]
        rows = answer["steps"]
        shown = [[step[c] for c in header] for step in rows[:limit]]
    elif "cohorts" in answer:
        rows = answer["cohorts"]
        width = max((len(row["values"]) for row in rows), default=1)
        header = ["cohort", "users", *(str(n) for n in range(width))]
        shown = [[row["cohort"], row["users"], *row["values"]] for row in rows[:limit]]
    else:
        return None
    return {"header": header, "rows": shown, "more": max(len(rows) - limit, 0)}
