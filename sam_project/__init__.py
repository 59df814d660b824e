"""What every command of this kit shares about the SAM project on disk.

* :mod:`sam_project.errors`: the one user-error type (a one-line message, exit code 2,
  never a traceback) and the argparse parser that reports usage mistakes the same way;
* :mod:`sam_project.files`: atomic writes (a reader never sees half a file) and the one
  bounded reader of user-named files (regular files only, never more than a limit);
* :mod:`sam_project.documents`: the one YAML loader (aliases bounded, CloudFormation
  short tags for templates) and the one JSON parser, both remembering repeated keys;
* :mod:`sam_project.overrides`: the one parser of ``--parameter-overrides``, with SAM
  CLI's syntax (``K=V``, ``ParameterKey=K,ParameterValue=V``, quoting, ``file://``);
* :mod:`sam_project.samconfig`: the one reader of ``samconfig.toml`` environments.

Nothing here imports SAM CLI: ``policy_gen`` is installed without it, and the same
parser must give the same values to every tool (render, the local API, the rehearsal).
"""
