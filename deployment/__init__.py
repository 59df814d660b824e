"""Deploying the stack and proving the deploy.

The deploy rehearsal on an embedded AWS emulator (moto on localhost), the
post-deploy checks (against the emulator or, with ``AWS_SAM_STACK_NAME``, a real
stack), the multi-region command and the demo, all driving one render -> build
-> deploy sequence. Run ``python -m localapi demo|rehearse|regions``.
"""
