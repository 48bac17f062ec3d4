"""docs/corpus-format.md describes exactly the contract's tables and columns."""

import re

import contract
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "corpus-format.md").read_text()


def section(file_name: str) -> tuple[str, str]:
    """The heading and text of the doc's section whose heading names the file (up to the
    next `## ` heading)."""
    match = re.search(rf"^## ([^\n]*{re.escape(file_name)}[^\n]*)\n(.*?)(?=^## |\Z)", DOC,
                      re.M | re.S)
    assert match, f"docs/corpus-format.md has no section for {file_name}"
    return match.group(1), match.group(2)


def documented_columns(text: str) -> set[str]:
    """Column names in the section's tables (first cell, comma-separated names allowed)
    and in back-quoted `name` mentions of its prose."""
    names = set()
    for row in re.findall(r"^\| ([^|]+) \|", text, re.M):
        names |= {n.strip() for n in row.split(",")}
    names |= set(re.findall(r"`([a-z_]+)`", text))
    return names


def test_every_table_and_column_of_the_contract_is_documented():
    for file_name, schema in contract.TABLE_SCHEMAS.items():
        missing = set(schema.names) - documented_columns(section(file_name)[1])
        assert not missing, f"{file_name}: columns {sorted(missing)} not in the doc"
    embeddings = contract.embeddings_schema(4).names
    assert not set(embeddings) - documented_columns(section("embeddings/")[1])


def test_tabled_columns_are_exactly_the_schema():
    """Where the doc gives a column table, it lists no column the section's files lack."""
    for file_name in contract.TABLE_SCHEMAS:
        heading, text = section(file_name)
        columns = {c for f, schema in contract.TABLE_SCHEMAS.items() if f in heading
                   for c in schema.names}
        rows = re.findall(r"^\| ([^|]+) \|", text, re.M)
        tabled = {n.strip() for r in rows for n in r.split(",")} - {"column", "---"}
        assert tabled <= columns, f"{file_name}: {sorted(tabled - columns)}"


def test_the_doc_names_the_schema_version():
    assert f"schema version {contract.SCHEMA_VERSION}" in DOC
