"""Speech-to-text, language-model and text-to-speech providers, one module per vendor and stage."""
