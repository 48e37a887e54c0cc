"""AWS adapters: S3 as the object store and input source, DynamoDB as the
result store, the table definitions they share with the CDK stack, and the
one place boto3 clients are built and AWS errors are translated."""
