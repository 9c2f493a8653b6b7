"""The engine layer on Spark Connect (the `spark_connect` target): a local Spark Connect server in its
own JVM, as a cluster's would be, and this process only a Connect client (no SparkContext, no RDDs).

The tests imported below are the classic-session tests of test_spark_text_models.py,
test_spark_recommendations.py and test_spark_content_similarity.py, run again here by pytest on this
module's Connect fixtures (`local_spark`, `spark`): the same assertions against experience.holdout_split,
fit_experience, numpy's similarity and recommendation code and content_similarities. Beside them: DuckDB's own
fingerprint of the same rows.

The whole demo also builds on Connect (README "Running on Spark"); that build takes too long for a
test, so it is not one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import SPARK_SESSION_JVM_OPTIONS, requires_spark

requires_spark()

# The same tests, collected again in this module: they run on this module's fixtures.
from test_spark_content_similarity import test_missing_values_in_every_column  # noqa: E402, F401
from test_spark_recommendations import (  # noqa: E402
    test_random_recommendations_equal_numpys,  # noqa: F401
    test_random_similarities_equal_numpys,  # noqa: F401
)
from test_spark_text_models import (  # noqa: E402
    test_experience_on_spark_is_fit_experiences,  # noqa: F401
    test_the_holdout_is_holdout_splits_over_many_partitions,  # noqa: F401
)

SERVER_START_SECONDS = 300


def _connect_dependencies_missing() -> str | None:
    from pyspark.errors import PySparkImportError  # not an ImportError

    try:
        import pyspark.sql.connect  # noqa: F401 (checks the client's packages on import)
    except (ImportError, PySparkImportError) as error:
        return f"the Spark Connect client is not installed (pip install -e '.[spark]'): {error}"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_command(port: int, warehouse: Path) -> list[str]:
    from pyspark.find_spark_home import _find_spark_home

    settings = {"spark.connect.grpc.binding.port": port, "spark.connect.grpc.binding.address": "127.0.0.1",
                "spark.sql.warehouse.dir": warehouse, "spark.sql.session.timeZone": "UTC",
                # Several shuffle partitions, so the holdout's numbering spans partitions.
                "spark.sql.shuffle.partitions": 3, "spark.ui.enabled": "false",
                "spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "localhost",
                "spark.driver.extraJavaOptions": SPARK_SESSION_JVM_OPTIONS}
    return [str(Path(_find_spark_home()) / "bin" / "spark-submit"), "--class",
            "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
            *(part for name, value in settings.items() for part in ("--conf", f"{name}={value}")), "spark-internal"]


def _wait_for(server: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the Spark Connect server ended ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"no Spark Connect server on port {port} after {SERVER_START_SECONDS} s")


@pytest.fixture(scope="module")
def connect_session(tmp_path_factory):
    """A Connect session on a local Spark Connect server started for this module. The server's Python
    workers run this interpreter with this ltv on their path, as a cluster's must have ltv installed."""
    missing = _connect_dependencies_missing()
    if missing:  # CI installs the spark extra, Connect client included: there the test must not vanish
        (pytest.fail if os.environ.get("CI") else pytest.skip)(missing)
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    import ltv

    work = tmp_path_factory.mktemp("spark_connect")
    port, log = _free_port(), work / "server.log"
    environment = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(ltv.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")]))}
    with log.open("w") as output:
        server = subprocess.Popen(_server_command(port, work / "warehouse"), env=environment, cwd=work,
                                  stdout=output, stderr=subprocess.STDOUT)
    # pyspark.sql.functions builds Connect columns only in a process marked as a Connect client, which
    # the classic sessions of other test modules in this process must not inherit.
    marked = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    try:
        _wait_for(server, port, log)
        session = ConnectSession.builder.remote(f"sc://localhost:{port}").getOrCreate()
        yield session
        session.stop()
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        if marked is None:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        else:
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = marked


@pytest.fixture(scope="module")
def local_spark(connect_session):
    """test_spark_text_models' fixture, on Connect: the engine layer's frames."""
    from ltv.engines.frames import SparkFrames, frames_for

    frames = frames_for(connect_session)
    assert isinstance(frames, SparkFrames)
    return frames


@pytest.fixture(scope="module")
def spark(connect_session):
    """test_spark_recommendations' fixture, on Connect: the session itself."""
    return connect_session


def test_the_session_is_a_connect_client(connect_session):
    assert type(connect_session).__module__ == "pyspark.sql.connect.session"
    from pyspark.errors import PySparkAttributeError

    with pytest.raises(PySparkAttributeError, match="JVM_ATTRIBUTE_NOT_SUPPORTED"):
        connect_session.sparkContext  # noqa: B018 (Connect has none: the engine layer must not need it)


def test_the_fingerprint_on_connect_is_duckdbs(local_spark):
    """spark_registry.relation_fingerprint (DuckDB's hashes in the server's Python workers, summed by
    Spark) equals DuckDB's own build_cache.relation_fingerprint of the same rows."""
    import duckdb

    from ltv import build_cache
    from ltv.engines.spark_registry import relation_fingerprint

    rows = pd.DataFrame({"text_hash": [f"h{number}" for number in range(500)],
                         "rating": [number % 5 + 1 for number in range(500)],
                         "masked_text": [None if number % 7 == 0 else f"text é {number}" for number in range(500)]})
    columns = {"text_hash": "varchar", "rating": "integer", "masked_text": "varchar"}
    frame = local_spark.session.createDataFrame(rows, "text_hash string, rating int, masked_text string")
    fingerprint, counted = relation_fingerprint(local_spark, frame.repartition(3), columns)
    with duckdb.connect() as connection:
        connection.register("source_rows", rows)
        relation = connection.sql("select text_hash, cast(rating as integer) as rating, masked_text from source_rows")
        assert fingerprint == build_cache.relation_fingerprint(relation, list(columns))
    assert counted == len(rows)
