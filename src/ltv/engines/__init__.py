"""What differs between the engines ltv runs on (DuckDB in one process, Apache Spark), kept at the
edge so that the model families never ask which engine they are on."""
