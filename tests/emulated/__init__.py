"""An emulated deployment of the ``Logmr`` stack on moto's server, without
Docker or an account: the CDK app synthesized (``assembly``), its file assets
published to a bootstrap bucket and its template created by moto's
CloudFormation, with providers for the resource types moto lacks
(``providers``); each Lambda function run in its own process with the
environment the template gives it (``lambdas``, ``runtime``); S3's events
delivered to the state machine as the template's rules say (``eventbridge``);
all of it started and stopped by ``deployment``. docs/emulated.md says what it
covers and what it cannot.

This package imports nothing: a function's worker process imports only
``emulated.runtime``.
"""
