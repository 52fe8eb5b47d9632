"""Definition metadata shared by lake assets: where the data lives and what shape it has."""

import dagster as dg
import polars as pl


def table_schema(schema: dict[str, pl.DataType]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    )


def lake_asset_metadata(
    key: dg.AssetKey, schema: dict[str, pl.DataType], partition_column: str
) -> dict:
    """Storage path pattern and column schema, shown on the asset page before any run."""
    return {
        "storage_path": dg.MetadataValue.text(
            "s3://$LAKE_BUCKET/" + "/".join(key.path) + f"/{partition_column}=YYYY-MM-DD/data.parquet"
        ),
        "dagster/column_schema": table_schema(schema),
    }


def markdown_table(df: pl.DataFrame) -> str:
    """A frame as a GitHub-flavoured markdown table, for MetadataValue.md."""
    header = "| " + " | ".join(df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join([header, rule, *rows])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
