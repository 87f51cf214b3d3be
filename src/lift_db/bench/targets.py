"""Every target `make bench` judges, in one place.

A figure is named by its key, `<section>/<name>` or, where several subjects share a name,
`<section>/<name>/<subject label>` (the longer key wins). To give a row a target, add one line
here; the figure's module only measures it. A figure whose module passes a goal of its own keeps
it unless a line here names the figure.

GROWTH_LIMIT is the sweep's rule: a figure listed in FLAT must keep its median at the largest
scale within GROWTH_LIMIT times its median at the smallest (`make bench-sweep`).
"""

from __future__ import annotations

from lift_db.bench.results import Goal

RLS_RATIO = Goal("ratio ≤ 1.05", "ratio", "<=", 1.05)

TARGETS: dict[str, Goal] = {
    "rls/get a session": RLS_RATIO,
    "rls/list active sessions, newest first, page of 20": RLS_RATIO,
    "rls/update the IR (writes its history row)": RLS_RATIO,
    "rls/read a session's history": RLS_RATIO,
}

GROWTH_LIMIT = 1.5

# Sections whose every figure must stay flat, and single figures (keys as above).
FLAT_SECTIONS: frozenset[str] = frozenset({"rls"})
FLAT_FIGURES: frozenset[str] = frozenset(
    {
        # The filtered search the app runs: the exact path for a small readable set must not
        # grow with everyone else's embeddings, wherever the query lands.
        "vector/10 nearest among one user's own (~1% of all)/public.match_sessions",
        "vector/10 nearest among one user's own: query among others' embeddings vs empty space"
        "/query at the centre of others' largest cluster",
    }
)
