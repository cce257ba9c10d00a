"""The session registry and the few helpers every session family uses.

A session is a function `fn(tr)` registered with `@session(id, agent)`; it builds an agent on the
trace `tr`, plays the conversation, and either labels what goes wrong (`tr.label(kind, first,
last, note)`, turns being the 1-based indices that `turn()`/`say()`/side calls return) or marks
the session clean with the hard negative it is (`tr.clean(note)`).
"""

REGISTRY = []

AGENTS = ("claude-code", "gemini-cli", "codex", "opencode", "aider", "openai-chat", "openhands", "cline")


def session(sid, agent):
    assert agent in AGENTS, agent

    def deco(fn):
        assert sid not in {s for s, _, _ in REGISTRY}, sid
        REGISTRY.append((sid, agent, fn))
        return fn
    return deco
