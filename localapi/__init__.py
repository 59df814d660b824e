"""SAM local without Docker: serve the built API and build it, nothing else.

* serve -- the SAM-built REST API on 127.0.0.1 the way ``sam local start-api``
  does: SAM CLI's own machinery finds the routes and translates HTTP <-> API
  Gateway events (``localapi.server``); only the container is replaced, by warm
  worker processes of the function's own Python (``localapi.runner``,
  ``localapi.worker``).
* build -- ``sam build`` with the runtime's real interpreter first on PATH
  (``localapi.build``).

Both first check that this machine can honestly run the function: its runtime's
interpreter and loadable native code (``localapi.runtime``). Command line:
``localapi.cli`` (``python -m localapi serve|build``); ``python -m localapi
demo|rehearse|regions`` are handed to the ``deployment`` package.
"""

__version__ = "0.1.0"
