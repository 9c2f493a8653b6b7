"""ltv: long-term customer value analytics. Plain functions that the dbt Python models call."""

__version__ = "0.1.0"
