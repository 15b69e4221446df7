#!/usr/bin/env python3
"""Check that Spark, pyarrow and DuckDB read a synlab dataset alike (issue 25, item 4).

Usage: scripts/check-spark.py [SYNLAB] [DIR]

Builds a hive-partitioned dataset from every bundled capture (captures/*.pcap*,
`handshakes --parquet DIR --partition-by date,vantage`), then reads it with
Spark SQL (local mode), pyarrow's dataset API and DuckDB, and compares what
each engine sees: the row count, the column names, each column's type class
and every row's (community_id, outcome). Prints one summary line per engine
and exits 1 on any disagreement.

Not part of the CI suite: pyspark is a 300 MB download and needs a Java 17
runtime (`pip install pyspark`, Debian's openjdk-17-jre-headless). The
dataset test CI does run is tests/parquet_dataset.rs (pyarrow + DuckDB).
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.types as pt

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build(synlab, out):
    """One run per bundled capture, appended into `out`, as the GUIDE's pipeline does."""
    files = sorted(glob.glob(os.path.join(ROOT, "captures", "*.pcap*")))
    for f in files:
        subprocess.run(
            [synlab, "handshakes", f, "--parquet", out, "--partition-by", "date,vantage",
             "--vantage", "lab1"],
            check=True, stdout=subprocess.DEVNULL)
    return len(files)


def arrow_class(t):
    if pt.is_boolean(t):
        return "boolean"
    if pt.is_integer(t):
        return "bigint"
    if pt.is_floating(t):
        return "double"
    if pt.is_string(t) or pt.is_large_string(t) or pt.is_dictionary(t):
        return "string"
    if pt.is_date(t):
        return "date"
    return str(t)


def spark_class(t):
    return {"long": "bigint", "integer": "bigint", "string": "string", "boolean": "boolean",
            "double": "double", "date": "date"}.get(t, t)


def duck_class(t):
    t = t.upper()
    if t in ("BIGINT", "INTEGER"):
        return "bigint"
    if t == "VARCHAR":
        return "string"
    if t == "BOOLEAN":
        return "boolean"
    if t == "DOUBLE":
        return "double"
    if t == "DATE":
        return "date"
    return t


def read_arrow(out):
    # Hive partition values are path text: pyarrow reads `date=2026-11-26` as a
    # string unless told the type, where Spark and DuckDB infer a date.
    parts = ds.partitioning(pa.schema([("date", pa.date32()), ("vantage", pa.string())]),
                            flavor="hive")
    table = ds.dataset(out, format="parquet", partitioning=parts).to_table()
    schema = {f.name: arrow_class(f.type) for f in table.schema}
    rows = sorted(zip(table.column("community_id").to_pylist(),
                      table.column("outcome").to_pylist()), key=repr)
    return table.num_rows, schema, rows


def read_duck(out):
    rel = duckdb.sql(
        f"SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true)")
    schema = {c: duck_class(str(t)) for c, t in zip(rel.columns, rel.types)}
    rows = sorted(duckdb.sql(
        f"SELECT community_id, outcome FROM read_parquet('{out}/**/*.parquet', "
        "hive_partitioning = true)").fetchall(), key=repr)
    return len(rel.fetchall()), schema, rows


def read_spark(out):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("synlab-check")
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(out)
    schema = {f.name: spark_class(f.dataType.simpleString()) for f in df.schema.fields}
    rows = sorted(((r[0], r[1]) for r in df.select("community_id", "outcome").collect()),
                  key=repr)
    n = df.count()
    version = spark.version
    spark.stop()
    return n, schema, rows, version


def main():
    synlab = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release", "synlab")
    tmp = None
    if len(sys.argv) > 2:
        out = sys.argv[2]
    else:
        tmp = tempfile.mkdtemp(prefix="synlab-spark-")
        out = os.path.join(tmp, "archive")
    try:
        files = build(synlab, out)
        seen = {"pyarrow": read_arrow(out), "duckdb": read_duck(out)}
        n, schema, rows, version = read_spark(out)
        seen[f"spark {version}"] = (n, schema, rows)
        ok = True
        ref_name, ref = "pyarrow", seen["pyarrow"]
        for name, (n, schema, rows) in seen.items():
            kinds = {}
            for k in schema.values():
                kinds[k] = kinds.get(k, 0) + 1
            print(f"{name}: {n} rows, {len(schema)} columns, types "
                  + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
            if n != ref[0] or schema != ref[1] or rows != ref[2]:
                ok = False
                diff = {c: (schema.get(c), ref[1].get(c))
                        for c in set(schema) | set(ref[1]) if schema.get(c) != ref[1].get(c)}
                print(f"  differs from {ref_name}: rows {n} vs {ref[0]}; columns {diff}; "
                      f"community_id+outcome equal: {rows == ref[2]}")
        print(f"{files} captures; engines {'agree' if ok else 'DISAGREE'}")
        return 0 if ok else 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
