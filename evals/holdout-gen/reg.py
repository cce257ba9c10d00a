"""The scenario registry."""

SCENARIOS = []


def scenario(name, agent, clean=False):
    """Register a scenario: `fn(s)` builds session `s` (labels via s.label, a note via s.note)."""
    def deco(fn):
        assert not any(x["name"] == name for x in SCENARIOS), name
        SCENARIOS.append({"name": name, "agent": agent, "clean": clean, "fn": fn})
        return fn
    return deco
