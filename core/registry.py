"""Named things registered once with their default config (as timm registers models): lessons, datasets,
backbones. The UI and the tests discover them from here."""


class Registry(dict):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str, item):
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self[name] = item
        return item

    def lookup(self, name: str):
        """Like `registry[name]`, but an unknown name is told which names are known."""
        try:
            return self[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self))}") from None
