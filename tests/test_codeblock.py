from autodidact.tools.codeblock import extract_code, truncate_after_code


def test_extracts_fenced_python():
    reply = "Here:\n```python\ndef f(x):\n    return x\n```\nThis works because..."
    assert extract_code(reply) == "def f(x):\n    return x"


def test_prefers_block_defining_the_entry_point():
    reply = "```python\nprint(g(1))\n```\nand\n```py\ndef g(x):\n    return 2\n```"
    assert extract_code(reply, "g") == "def g(x):\n    return 2"


def test_unclosed_block_at_token_limit():
    assert extract_code("```python\ndef f():\n    return 1") == "def f():\n    return 1"


def test_bare_code_and_prose():
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"
    assert extract_code("I cannot do that.") == ""
    assert extract_code("```bash\nls\n```") == ""


def test_truncate_after_code():
    reply = "```python\ndef f():\n    return 1\n```\nExplanation that is not trained on."
    assert truncate_after_code(reply) == "```python\ndef f():\n    return 1\n```"
    assert truncate_after_code("no code") == "no code"
