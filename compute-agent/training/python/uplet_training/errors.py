"""The one error a task reports as bad input (exit code 2, outdir/error.json)."""


class BadInput(Exception):
    """Input the caller can fix: a code, a human message and the spec field or column at fault."""

    def __init__(self, code, message, field=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_json(self):
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}
