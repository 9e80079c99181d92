"""Verdicts: the statistics that turn timings into regressed / improved / unchanged / inconclusive.

- `verdict`: the one verdict rule (an interval of new / old at a family-wise alpha) and its type.
- `evidence`: estimates from A/B processes, and the smallest change a design can see.
- `gate`: the regression gate, a run judged against this machine's saved history.
- `words`: how verdicts, their counts, a ratio and its interval are written (no SciPy).
- `changepoints`: where a benchmark's median moved over the saved runs.

Nothing here imports pytest, a report's document, a table or a session: verdicts are plain data in, plain data
(and words) out; mlxbench.reports.table and .verdictlines lay them out.
"""
