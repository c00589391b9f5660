"""stui.repl — the prompt_toolkit front end: what a Smalltalk developer sees when they type `stui`.

A front end on top of the embeddable supervisor (stui.actors), never inside it. Entry points:
`stui.repl.main.run_repl(options)` (what the `stui` command runs) and `stui.repl.cli_options` (its
command-line options). docs/user-guide.md is the user's view; docs/architecture.md ("The REPL") says
how it is built: trio runs as a guest of prompt_toolkit's asyncio loop (trio_guest.py).
"""
