"""The prompt-template ensemble both assessments use as the "class name in a template"
baseline (`data/prompts/zeroshot-templates.yaml`, docs/assess.md)."""

from contract.paths import data_dir


def zeroshot_templates(name: str = "zeroshot-templates") -> list[str]:
    """The templates, each with one `{}` for the class label; ValueError naming the file
    when it is missing or malformed (each side turns it into its own error)."""
    import yaml

    path = data_dir() / "prompts" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"{path}: no such template file")
    templates = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("templates") or []
    if not templates or not all(isinstance(t, str) and t.count("{}") == 1 for t in templates):
        raise ValueError(f"{path}: 'templates' must be a list of strings with one '{{}}'")
    return templates
