"""stui — a client that connects a Smalltalk developer to many live Smalltalk images at once."""

__version__ = "0.1.0"
