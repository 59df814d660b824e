"""Deploying the stack and proving the deploy.

* ``sequence`` -- the one render -> build -> deploy sequence, each step spelled once;
* the deploy rehearsal on an embedded AWS emulator: ``rehearsal`` (the steps),
  ``moto_server`` (the emulator process), ``emulator`` (its account, region and
  known gaps), ``translate`` and ``adapt`` (the SAM-translated template, made
  deployable on moto), ``tools`` (running SAM CLI and policy_gen), ``console``;
* post-deploy verification, against the emulator or a real stack
  (``AWS_SAM_STACK_NAME``): ``checks`` on a ``target``, with ``stack_spec`` (what
  the stack must look like), ``template_values``, ``results`` and ``output``;
* ``regions`` (one stack per region) and ``demo`` (the main job, no AWS account).

Command line: ``python -m deployment demo|rehearse|regions`` (``rehearsal_cli`` for
``rehearse``); ``python -m localapi`` hands the same three commands over.
"""
