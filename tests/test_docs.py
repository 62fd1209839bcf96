"""Every tutorial in docs/tutorials/ runs as written.

Each page is one test: its ```python blocks (also those indented inside an
admonition) run in order in one fresh module namespace, so a page is a script
read top to bottom, and its own ``assert`` statements are what the test checks.
A page that imports an optional library that is not installed is skipped;
nothing else is.
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
PAGES = sorted(TUTORIALS.glob("*.md"))

# Optional libraries a page may import; the [dev] extra installs all of them.
OPTIONAL = ("dm_env", "flax", "gymnasium", "optax")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown page: ``(first line number, code)``.

    A fence may be indented (inside an admonition); its indentation is removed
    from the code. Blocks of other languages are ignored.
    """
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, lang = match["indent"], match["info"].strip().split(" ")[0].lower()
        start, i = i + 1, i + 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        if lang in ("python", "py"):
            body = [
                line[len(indent) :] if line.startswith(indent) else line for line in lines[start:i]
            ]
            blocks.append((start + 1, textwrap.dedent("\n".join(body))))
        i += 1  # past the closing fence
    return blocks


def _imported_roots(code: str) -> set[str]:
    found = re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", code, flags=re.MULTILINE)
    return set(found)


def test_tutorials_exist_and_assert_something():
    assert [p.name for p in PAGES] == [
        "converting-and-wrapping.md",
        "custom-training.md",
        "writing-an-environment.md",
    ]
    for page in PAGES:
        code = "\n".join(code for _, code in python_blocks(page.read_text(encoding="utf-8")))
        assert re.search(r"^\s*assert\b", code, flags=re.MULTILINE), f"{page.name} asserts nothing"


def test_python_blocks_parser():
    text = (
        "intro\n```python\nx = 1\n```\n```bash\nexit 1\n```\n"
        '??? note "hidden"\n    ```python\n    def f():\n        return x\n    ```\n'
    )
    assert python_blocks(text) == [(3, "x = 1"), (10, "def f():\n    return x")]


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs(page: Path):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert blocks, f"{page.name} has no ```python block"
    for name in sorted(_imported_roots("\n".join(code for _, code in blocks)) & set(OPTIONAL)):
        pytest.importorskip(name)
    # A real module, so that classes defined on the page (NamedTuples, flax
    # modules, dataclasses) find their module in sys.modules.
    module = types.ModuleType(f"docs_tutorial_{page.stem.replace('-', '_')}")
    module.__file__ = str(page)
    sys.modules[module.__name__] = module
    try:
        for first_line, code in blocks:
            # Padding so that a traceback names the page's own line numbers.
            compiled = compile("\n" * (first_line - 1) + code, str(page), "exec")
            exec(compiled, module.__dict__)
    finally:
        del sys.modules[module.__name__]
