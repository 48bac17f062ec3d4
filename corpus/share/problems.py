"""How sharing commands list many problems in one error message."""


def problem_list(head: str, problems: list[str], shown: int = 10) -> str:
    lines = [f"{head}:"] + [f"  {p}" for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more")
    return "\n".join(lines)
