"""The trust boundary of `handlstm check`.

Runs inside the sandbox, beside the learner's code (bound read-only into it, standalone files
that import only each other, torch and Lightning; nothing here knows the right answers):
`forkserver.py` (the fork server), `namespaces.py` (each child in fresh namespaces and limits),
`runner.py` (a child's request handlers), `facts.py` (what diagnosis asks besides numbers),
`definitions.py` (loading a learner's definitions),
`trajectory.py` (short Lightning runs), `protocol.py` (framing both sides use).

Runs in the parent: `bwrap.py` (the bubblewrap command line) and `client.py` (the parent's
handle on a sandboxed runner).
"""
