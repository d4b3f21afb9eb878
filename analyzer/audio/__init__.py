"""Audio stages: voice activity, speakers, prosody and speech emotion."""
