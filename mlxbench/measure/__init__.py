"""Measuring: timing a prepared call, the sweep points a session can afford, thread policy, who ran
this (machine identity and facts), progress lines, and the A/B baton a worker waits on.

Depends only on the contracts at the top level (workloads, backends, registry, datasets); the session,
verdicts and reports build on it, never the other way round.
"""
