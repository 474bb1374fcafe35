"""examples/python/hello/words.py — the greeting itself, a module of the plugin beside its entry (import words)."""


def greeting(word, names):
    """Returns "WORD, NAME!" for one name, or "WORD, A, B and C!" for a list of names."""
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"py.greet: expected a name or a list of names, got {names!r}")
    people = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{word}, {people}!"
