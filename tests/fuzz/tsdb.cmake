# Fuzz targets of the storage engine (tsdb/): WAL records and stored label sets.
fuzz_target(fuzz_wal_record LIBS tsdb)
