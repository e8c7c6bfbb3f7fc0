"""Dataset adapters, one module per format: any ``folder`` of audio, a CSV ``manifest``, the synthetic
``quickstart`` corpus, and the paper's corpora as distributed (LibriSpeech, IEMOCAP, MLS, VoiceBank-DEMAND,
Libri1Mix, VCTK, LibriTTS). The corpus adapters validate their root and name the sub-folder they lack."""
