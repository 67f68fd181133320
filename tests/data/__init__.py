"""Test data shipped with the repository, so a fresh clone runs every test on its own.

``speech/``: real English speech (16 kHz mono PCM16 WAV, 0.25 s of silence around the words, made
with the Piper en_US "joe" voice); ``speech/manifest.json`` gives each file's words (``text``), its
length, and what the offline pocketsphinx en-US model hears in it (``pocketsphinx``).
``seed/``: the original contract the product started from; every value in it stays valid.
"""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
SPEECH_DIR = DATA_DIR / "speech"
SEED_CONTRACT = DATA_DIR / "seed" / "metahuman-ai-chat-asyncapi.txt"
