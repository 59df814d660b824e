"""policy_gen: render, prove and inject the KMS key policy that lets CloudWatch Logs
encrypt exactly our log groups and nobody else's.

The core modules are pure functions (``partitions``, ``render``, ``evaluate``,
``validate``, ``explain``); ``template`` and ``inject`` read and write files, and
``cli`` is the only place that talks to a terminal.
"""

__version__ = "0.1.0"
