"""Hand-written server code: sessions, audio buffering, provider pipelines and wiring."""
