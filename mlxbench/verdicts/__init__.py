"""Verdicts: the statistics that turn timings into regressed / improved / unchanged / inconclusive.

- `verdict`: the one verdict rule (an interval of new / old at a family-wise alpha) and its type.
- `evidence`: estimates from A/B processes, and the smallest change a design can see.
- `gate`: the regression gate, a run judged against this machine's saved history.
- `table`: the one verdict table every path prints and every report renders (terminal lines, document
  cells, JSON).
- `changepoints`: where a benchmark's median moved over the saved runs.

Nothing here imports pytest, a report's document, or a session: verdicts are plain data in, plain data (and
lines of text) out.
"""
