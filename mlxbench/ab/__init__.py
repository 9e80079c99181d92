"""`mlxbench ab`: the same benchmarks in two environments, judged against each other.

- `command`: the command itself (options, arms, the run, its verdicts and files).
- `paired`: the time-paired design (two live workers handing a baton every round) and its verdicts.
- `venvs`: virtual environments with the framework versions a saved run recorded (arm A).
"""
