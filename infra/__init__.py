"""The AWS CDK app of logmr: ``infra.app`` (the entry ``cdk.json`` runs),
``infra.stack`` (the ``Logmr`` stack), ``infra.construct`` (everything in it,
as one reusable construct, composed of ``infra.data``, ``infra.functions``,
``infra.workflow``, ``infra.triggers``, ``infra.api`` and
``infra.monitoring``) and ``infra.bundling`` (the dependencies layer)."""
