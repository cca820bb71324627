"""Insight answers as tables, for the pages that show them."""


def answer_table(answer: dict) -> dict | None:
    """An insight's answer as {header, rows} for a page: readable without images or
    scripts. None for an answer that is no table (an error)."""
    if "rows" in answer:
        return {
            "header": answer["columns"],
            "rows": [[row[c] for c in answer["columns"]] for row in answer["rows"]],
        }
    if "steps" in answer:
        header = ["step", "event", "users", "conversion_from_first", "median_seconds"]
        return {"header": header, "rows": [[step[c] for c in header] for step in answer["steps"]]}
    if "cohorts" in answer:
        width = max((len(row["values"]) for row in answer["cohorts"]), default=1)
        header = ["cohort", "users", *(str(n) for n in range(width))]
        return {
            "header": header,
            "rows": [[row["cohort"], row["users"], *row["values"]] for row in answer["cohorts"]],
        }
    return None
