"""Reading inputs: listing and opening objects (local or S3), decompression,
and line-exact byte ranges."""
