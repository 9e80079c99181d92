"""`mlxbench releases` and `mlxbench bisect`: the same benchmarks across a framework's releases.

`index` (which releases of a framework the package index holds, and the requirement that installs one),
`history` (one cached environment and one saved run per release, reused by the next invocation), `state`
(OUT/state.json: what each release came to, read back strictly), `lock` (one command per output folder), `steps`
(where the history moved, each step confirmed or refuted by an A/B of the two releases), `search`
(bisect: the first bad release in log2(n) + 1 A/Bs) and `command` (the two subcommands).
"""
