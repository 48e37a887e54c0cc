"""The MapReduce mechanics every job shares: the map side (parse, map, combine,
partition), the shuffle format and the partition function."""
