"""Benchmarks: scripts that print figures and write bench/results/*.json (``python -m bench``).

They are not timed tests: nothing here passes or fails a build. Each benchmark starts the server
under test in its own process (``bench.serve``), pinned to one core when the machine has two, and
drives it from a load generator in another process pinned to the other core.

* ``capacity``: how many real-time sessions our server holds next to a bare python-socketio server.
* ``latency``: commit -> first audio with simulated provider latencies, next to the critical path.
* ``embedded``: the offline providers on real speech.
* ``memory``: resident memory per idle and per streaming session, and over many turns.
* ``vad``: server VAD (Silero) cost per session, end of speech -> commit, false starts (in process).
"""
